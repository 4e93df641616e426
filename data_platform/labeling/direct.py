"""Direct labels from feedback logs: impression -> click within an attribution window.

One example per impression (``labels.ctr_examples``), keyed by impression_id, in the daily
partition of the impression's UTC day. The rules:

- **Label.** 1 when a click naming the impression arrives at or after it and at most
  ``window_s`` seconds later (default 30 minutes), else 0. Clicks are deduplicated per impression:
  the first click in the window labels it; every other click is kept aside in
  ``labels.unattributed_clicks`` with its reason (``repeat_click``, ``after_window``,
  ``before_impression``, ``unknown_impression``), owned by the impression's day, or by the click's
  own day when its impression is unknown.
- **Maturity.** An example is ``mature`` when its window has closed given the data seen (the latest
  event time of the impression's day and the lookahead day), else ``provisional``: a provisional 0
  may still turn into a 1. Windows are capped at one day, which is why one lookahead day is enough.
- **Late clicks.** A click that lands after its impression's day was labelled (a late file, or a click
  just after midnight) is in a later clean partition. The partition mapping (impression day D reads
  clean days D and D+1) and the ``late_click_sensor`` re-run day D whenever clean day D or D+1 changed
  after D's labels were built, so a late click flips its label without a manual rebuild.
- **Point in time.** History features count the person's and the item's impressions and clicks in
  the 7 days *strictly before* the impression; nothing logged at or after it enters its features.

Everything runs in DuckDB (``sql/labeling/ctr_*.sql``), in slices of about ``slice_rows`` impressions so that
the memory a statement needs does not grow with the day; only counts come back to Python.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from data_platform.base.stage import SqlStep
from data_platform.resources import rows, run_sql, transaction

DEFAULT_WINDOW_S = 30 * 60
MAX_WINDOW_S = 24 * 3600  # one lookahead partition covers it

HISTORY_DAYS = 7  # the person and item history features look this many days back (insert_ctr_examples.sql)


@dataclass(frozen=True)
class CtrStats:
    """What one labelling pass over a day range produced."""

    examples: int
    distinct_impressions: int
    clean_impressions: int
    positives: int
    provisional: int
    invalid_rows: int
    clicks_owned: int
    clicks_unattributed: int
    unattributed_by_reason: dict[str, int]

    @property
    def clicks_balanced(self) -> bool:
        """Every click this range owns either labelled an example or is kept aside with a reason."""
        return self.clicks_owned == self.positives + self.clicks_unattributed


def check_window(window_s: int) -> int:
    """``window_s`` if it is a usable attribution window (1 s to 1 day), else ValueError."""
    if isinstance(window_s, bool) or not isinstance(window_s, int) or not 0 < window_s <= MAX_WINDOW_S:
        raise ValueError(f"attribution window must be 1..{MAX_WINDOW_S} seconds, got {window_s!r}")
    return window_s


DEFAULT_SLICE_ROWS = 1_000_000
"""Impressions labelled per slice (:func:`label_ctr_days`): what one statement sorts or joins is about this many
narrow rows, or this many wide ones, whatever the size of the day."""

HISTORY_SIDES = {"person": "person_key", "item": "item_id"}  # whose 7-day history: person_key's, item_id's


def _history_steps(name: str) -> tuple[SqlStep, ...]:
    return tuple(SqlStep(f"labeling/{name}.sql", {"side": side, "key": key}) for side, key in HISTORY_SIDES.items())


CTR_SLICES = SqlStep("labeling/ctr_slices.sql")
CTR_HISTORY = _history_steps("insert_ctr_history")
CTR_EXAMPLES_INSERT = SqlStep("labeling/insert_ctr_examples.sql")
CTR_STEPS: tuple[SqlStep, ...] = (
    *(
        SqlStep(f"labeling/{name}.sql")
        for name in (
            "ctr_stage_clicks",
            "ctr_stage_attribution",
            "ctr_stage_examples",
            "delete_ctr_examples",
            "delete_unattributed_clicks",
        )
    ),
    CTR_SLICES,
    *(
        step
        for side in zip(
            *(_history_steps(n) for n in ("ctr_stage_activity", "ctr_create_history")),
            CTR_HISTORY,
            _history_steps("ctr_drop_activity"),
        )
        for step in side
    ),
    SqlStep("labeling/ctr_stage_seen.sql"),
    CTR_EXAMPLES_INSERT,
    SqlStep("labeling/insert_unattributed_clicks.sql"),
)
"""The statements that label a range of impression days, in the order of one pass of :func:`label_ctr_days`
(which runs ``CTR_HISTORY`` once per slice for each side and ``CTR_EXAMPLES_INSERT`` once per slice); the
column lineage of labels.ctr_examples is derived from this same list (``labeling/stage.py``).
``ctr_stage_examples.sql`` groups every impression of the range at once: it runs before the narrow events and
history counts of the slices take their share of DuckDB's memory."""


def check_slice_rows(slice_rows: int) -> int:
    """``slice_rows`` if it is a usable slice size (a whole number of impressions >= 1), else ValueError."""
    if isinstance(slice_rows, bool) or not isinstance(slice_rows, int) or slice_rows < 1:
        raise ValueError(f"the slice size must be a whole number of impressions >= 1, got {slice_rows!r}")
    return slice_rows


def label_ctr_days(
    con: duckdb.DuckDBPyConnection,
    start_day: dt.date,
    end_day: dt.date,
    run_id: str,
    window_s: int = DEFAULT_WINDOW_S,
    slice_rows: int = DEFAULT_SLICE_ROWS,
) -> dict[dt.date, CtrStats]:
    """(Re)build the direct labels of impression days [start_day, end_day) in one transaction; return
    each day's counts.

    One set-based pass over the range that keeps each day to itself: a day's clicks are staged for it
    (``run_day``) with the impressions it can see, its maturity comes from the data up to the end of its
    lookahead day, so each day's examples are exactly those a run of that day alone would build, and
    range runs, per-day runs and reruns give the same rows.

    The range is built in slices of about ``slice_rows`` impressions, so that no statement sorts or joins
    more than a slice, whatever the size of the day: the person history is computed per slice of persons (by
    a hash of person_key), the item history per slice of items, both narrow (no example column), then the
    examples per range of clean.events rowids, each wide row read once. The slice size changes no row."""
    check_window(window_s)
    check_slice_rows(slice_rows)
    run_sql(con, "labeling/create_tables.sql")
    days = {"start_day": start_day, "end_day": end_day}
    values = {**days, "window_s": window_s, "run_id": run_id}
    with transaction(con):
        slices: list[dict] = []
        for step in CTR_STEPS:
            if step is CTR_SLICES:
                slices = rows(con, step.name, {**days, "slice_rows": slice_rows})
                values["slices"] = max(len(slices), 1)
            elif step in CTR_HISTORY:
                for slice_ in range(len(slices)):
                    step.run(con, {**values, "slice": slice_})
            elif step is CTR_EXAMPLES_INSERT:
                for bounds in slices:
                    step.run(con, {**values, **bounds})
            else:
                step.run(con, values)
        return _day_stats(con, days)  # while the range's clicks are staged


def _day_stats(con: duckdb.DuckDBPyConnection, days: dict[str, dt.date]) -> dict[dt.date, CtrStats]:
    """The counts of each impression day of the range just labelled, on the connection that staged its clicks."""
    by_reason: dict[dt.date, dict[str, int]] = {}
    for r in rows(con, "labeling/unattributed_by_reason.sql", days):
        by_reason.setdefault(r["day"], {})[r["reason"]] = r["clicks"]
    return {
        r["day"]: CtrStats(
            **{k: v for k, v in r.items() if k != "day"}, unattributed_by_reason=by_reason.get(r["day"], {})
        )
        for r in rows(con, "labeling/ctr_summary.sql", days)
    }


def ctr_calibration(con: duckdb.DuckDBPyConnection, start_day: dt.date, end_day: dt.date) -> list[dict]:
    """Actual vs predicted CTR, log loss and normalized entropy of the mature examples of the range,
    by model_version, and by model_version x category and x position bucket."""
    return rows(con, "labeling/ctr_calibration.sql", {"start_day": start_day, "end_day": end_day})


def miscalibrated_models(
    calibration: list[dict], tolerance: float, max_normalized_entropy: float, min_impressions: int
) -> list[dict]:
    """The per-model rows whose calibration ratio is outside [1 - tolerance, 1 + tolerance], or whose
    normalized entropy exceeds ``max_normalized_entropy``, among models with enough mature impressions."""
    return [
        r
        for r in calibration
        if r["breakdown"] == "model"
        and r["impressions"] >= min_impressions
        and (
            r["calibration_ratio"] is None
            or abs(r["calibration_ratio"] - 1) > tolerance
            or (r["normalized_entropy"] or 0) > max_normalized_entropy
        )
    ]
