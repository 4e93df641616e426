"""The hand-written pandas baseline: what a user writes today for the benchmark's work.

    python benchmarks/baseline_pandas.py <landing events dir> <fx csv> <out.parquet>

The same ingest + dedup + normalise + direct-label + split as the pipeline and the DuckDB floor, the
straightforward way: every file read line by line with ``json.loads`` (malformed lines skipped, since
``pandas.read_json`` stops at the first bad line), one DataFrame, ``drop_duplicates``, ``to_datetime``, a
merge for the exchange rates, a merge of clicks onto impressions for the labels, and an md5 bucket per
person for the split. Prints the row counts as JSON.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

import pandas as pd

COLUMNS = [
    "event_id",
    "event_type",
    "ts",
    "anon_id",
    "user_id",
    "impression_id",
    "item_id",
    "category",
    "position",
    "price",
    "currency",
    "predicted_ctr",
    "model_version",
    "country",
    "device",
]


def read_landing(events_dir: Path) -> pd.DataFrame:
    """Every JSON line of every landing file as one DataFrame (malformed lines skipped)."""
    records = []
    for path in sorted(events_dir.rglob("*.jsonl*")):
        opener = gzip.open if path.name.endswith(".gz") else open
        try:
            with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(record, dict):
                        records.append({c: record.get(c) for c in COLUMNS})
        except (OSError, EOFError):
            continue  # an unreadable file
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def bucket(person: str) -> float:
    return (int(hashlib.md5(person.encode()).hexdigest(), 16) % 1_000_000) / 1_000_000


def main(events_dir: str, fx_csv: str, out: str) -> None:
    raw = read_landing(Path(events_dir))
    events = raw.drop_duplicates("event_id").copy()
    # malformed lines carry any JSON type in any field: keep strings as strings and numbers as numbers
    for column in (
        "event_id",
        "event_type",
        "anon_id",
        "user_id",
        "impression_id",
        "item_id",
        "category",
        "currency",
        "model_version",
        "country",
        "device",
    ):
        events[column] = events[column].where(events[column].map(lambda v: type(v) is str))
    for column in ("position", "price", "predicted_ctr"):
        events[column] = pd.to_numeric(
            events[column].where(events[column].map(type).isin([int, float])), errors="coerce"
        )
    # ts is an ISO-8601 string with an offset or integer epoch milliseconds
    epoch_ms = pd.to_numeric(events["ts"].where(events["ts"].map(lambda v: type(v) is int)), errors="coerce")
    iso = events["ts"].where(events["ts"].map(lambda v: type(v) is str))
    events["ts"] = pd.to_datetime(iso, utc=True, errors="coerce", format="ISO8601").fillna(
        pd.to_datetime(epoch_ms, unit="ms", utc=True, errors="coerce")
    )
    plausible = events["ts"].between(pd.Timestamp("2000-01-01", tz="UTC"), pd.Timestamp("2100-01-01", tz="UTC"))
    events = events[events["event_id"].notna() & plausible]
    events["person_id"] = events["user_id"].fillna(events["anon_id"])
    events["category"] = events["category"].str.strip().str.lower()
    events["country"] = events["country"].str.strip().str.upper()
    events["device"] = events["device"].str.strip().str.lower()
    events["currency"] = events["currency"].str.strip().str.upper()
    # rates in the ECB's layout (Date, then units of each currency per EUR, N/A where none): the latest
    # rate on or before the event's day
    fx = pd.read_csv(fx_csv, dtype=str).melt(id_vars="Date", var_name="currency", value_name="units").dropna()
    fx = fx[(fx["currency"].str.strip().str.len() == 3) & (fx["units"].str.strip() != "N/A")]
    fx = pd.concat(
        [
            pd.DataFrame(
                {
                    "currency": fx["currency"].str.strip().str.upper(),
                    "day": pd.to_datetime(fx["Date"]),
                    "rate_to_eur": 1 / fx["units"].astype(float),
                }
            ),
            pd.DataFrame({"currency": ["EUR"], "day": [pd.Timestamp("1999-01-01")], "rate_to_eur": [1.0]}),
        ]
    )
    events["day"] = events["ts"].dt.tz_convert(None).dt.normalize().astype(fx["day"].dtype)
    events = pd.merge_asof(
        events.sort_values("day"), fx.sort_values("day"), on="day", by="currency", direction="backward"
    )
    events["price_eur"] = events["price"] * events["rate_to_eur"]

    impressions = events[events["event_type"] == "impression"]
    clicks = events.loc[events["event_type"] == "click", ["impression_id", "ts"]].rename(columns={"ts": "click_ts"})
    joined = impressions[["impression_id", "ts"]].merge(clicks, on="impression_id", how="inner")
    delay = joined["click_ts"] - joined["ts"]
    in_window = joined[(delay >= pd.Timedelta(0)) & (delay <= pd.Timedelta(minutes=30))]
    clicked = set(in_window["impression_id"])
    examples = impressions[
        ["impression_id", "person_id", "item_id", "category", "position", "price_eur", "predicted_ctr", "model_version"]
    ].copy()
    examples["example_date"] = impressions["ts"].dt.date
    examples["label"] = examples["impression_id"].isin(clicked).astype(int)

    buckets = {p: bucket(p) for p in examples["person_id"].dropna().unique()}
    b = examples["person_id"].map(buckets)
    examples["split"] = "test"
    examples.loc[b < 0.9, "split"] = "dev"
    examples.loc[b < 0.8, "split"] = "train"
    examples.to_parquet(out, index=False)
    print(
        json.dumps(
            {
                "lines_parsed": len(raw),
                "events": len(events),
                "examples": len(examples),
                "clicked": int(examples["label"].sum()),
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
