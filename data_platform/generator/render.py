"""Turn event columns into JSON lines, in bulk (polars string expressions, no per-event Python).

Each field becomes a fragment ``,"key":value`` (``{"event_id":..`` for the first) or null when the
field is left out; a line is its non-null fragments concatenated in the contract's field order,
then ``}``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from data_platform.contracts import FIELDS
from data_platform.generator.world import TS_SUFFIX_OFFSET_MIN, TS_SUFFIXES, pick

# String fields -> the event column holding their code into the fragment vocabulary of that name.
STRING_FIELD_COLUMNS = {
    "event_id": "eid",
    "event_type": "etype",
    "anon_id": "device",
    "user_id": "user",
    "session_id": "session",
    "impression_id": "imp",
    "item_id": "item",
    "category": "category",
    "currency": "currency",
    "model_version": "model",
    "text": "text",
    "country": "country",
    "device": "device_type",
    "app_version": "app_version",
    "user_agent": "ua",
    "ip": "ip",
}


def _number(key: str, column: str, present: pl.Expr) -> pl.Expr:
    return pl.when(present).then(pl.format(f',"{key}":{{}}', pl.col(column)))


_ISO_TS = pl.from_epoch(pl.col("_local_ms"), "ms").dt.strftime("%Y-%m-%dT%H:%M:%S%.3f")
_PRICE = (
    pl.when(pl.col("_cents"))
    .then((pl.col("_price") * 100).round().cast(pl.Int64).cast(pl.String))
    .otherwise(pl.col("_price").cast(pl.String))
)
NUMBER_FIELD_EXPRS = {
    "ts": pl.when(pl.col("_epoch"))
    .then(pl.format(',"ts":{}', pl.col("_ts")))
    .otherwise(pl.format(',"ts":"{}{}"', _ISO_TS, pl.col("_suffix"))),
    "position": _number("position", "_position", pl.col("_position") > 0),
    # Prices print as decimals ("12.99", "12.0"); an app sending cents prints integers ("1299").
    "price": pl.when(pl.col("_price").is_not_nan()).then(pl.format(',"price":{}', _PRICE)),
    "predicted_ctr": _number("predicted_ctr", "_ctr", pl.col("_ctr").is_not_nan()),
    "rating": _number("rating", "_rating", pl.col("_rating") > 0),
}
assert set(STRING_FIELD_COLUMNS) | set(NUMBER_FIELD_EXPRS) == {f.name for f in FIELDS}

assert FIELDS[0].name == "event_id"  # always present: its fragment opens the object
_LINE = pl.concat_str(
    [pl.col(f.name) if f.name in STRING_FIELD_COLUMNS else NUMBER_FIELD_EXPRS[f.name] for f in FIELDS] + [pl.lit("}")],
    separator="",
    ignore_nulls=True,
).alias("line")


def render_lines(cols: dict[str, np.ndarray], frags: dict[str, pl.Series]) -> pl.Series:
    """One JSON object per row of ``cols`` (codes into ``frags``, one fragment vocabulary per field)."""
    suffix = cols["ts_suffix"]
    epoch = suffix < 0
    suffix_code = np.where(epoch, 0, suffix)
    data = {name: pick(frags[name], cols[column]) for name, column in STRING_FIELD_COLUMNS.items()}
    data |= {
        "_ts": cols["ts"],
        "_epoch": epoch,
        "_local_ms": cols["ts"] + TS_SUFFIX_OFFSET_MIN[suffix_code] * 60_000,
        "_suffix": pl.Series(TS_SUFFIXES).gather(suffix_code),
        "_position": cols["position"],
        "_price": cols["price"],
        "_cents": cols["cents"],
        "_ctr": cols["ctr"],
        "_rating": cols["rating"],
    }
    return pl.DataFrame(data).select(_LINE).to_series()
