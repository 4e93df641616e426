"""Write realistic raw event logs into a landing folder, day by day, plus a manifest of what is in them.

Per generated day: simulate the day's valid events (:mod:`simulate`), plan the lines that deliver
them (delivery delays, duplicate deliveries, malformed copies), then render and write one delivery
hour at a time, so memory stays bounded by a day of numeric columns plus an hour of text. Lines
delivered on a later day (late events) wait, rendered, until that day's files are written.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from data_platform.contracts import CONTRACT_VERSION, EVENT_TYPES
from data_platform.generator.incidents import Incident, parse_incident
from data_platform.generator.malformed import (
    INVALID_UTF8_BYTES,
    INVALID_UTF8_MARK,
    MALFORMED_KINDS,
    SOURCE_TYPES,
    corrupt,
)
from data_platform.generator.render import render_lines
from data_platform.generator.simulate import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    NEAR_DUPLICATE_SHARE,
    REVIEW_POOLS,
    SPAM_POOL,
    DayEvents,
    epoch_ms,
    simulate_day,
)
from data_platform.generator.world import World, build_world, fragments, random_uuid4

MAX_LINES_PER_FILE = 250_000
GZIP_SHARE = 0.25
GZIP_LEVEL = 6
DUPLICATE_P = 0.03
DUPLICATE_OTHER_FILE_P = 0.30
DELAYED_P = 0.02  # delivered 1 hour to 2 days late
MALFORMED_P = 0.005
MAX_DELIVERY_DAYS_AFTER = 2  # nothing is delivered later than two days after its generated day
MIN_EVENTS_PER_DAY = 100
_EPOCH_DAY = dt.date(1970, 1, 1)
_INVALID_UTF8 = MALFORMED_KINDS.index("invalid_utf8")
GOLD_SHARE = 0.03  # of each day's non-spam reviews (at least one) get an expert label
GOLD_LABELED_BY = "expert"
_GOLD_STREAM = 0x601D  # the gold sample has its own random stream: the event files do not depend on it
_REVIEW = EVENT_TYPES.index("review")


def generate_logs(
    landing_dir: Path,
    start: dt.date,
    days: int,
    events_per_day: int,
    seed: int,
    incidents: Sequence[Incident] = (),
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Write ``days`` days of raw event logs from ``start`` under ``<landing_dir>/events/``; return the manifest.

    Files: ``events/<delivery day>/events-<HH>-<shard>-<start>s<seed>.jsonl`` (about 1 in 4 ``.jsonl.gz``), one per
    delivery hour (UTC) and shard (a new shard per ~250k lines), each written to ``*.tmp`` first and
    renamed. Late and duplicate deliveries may land up to two days after the last generated day.
    ~0.5% of lines are malformed (every quarantine kind but ``unreadable_file``, each generated day).

    The manifest, also written to ``events/manifest-<start>-d<days>-s<seed>.json``, has:
    ``parameters``; ``files`` (path relative to ``events/``, compressed, bytes, lines, valid_lines,
    duplicate_lines, malformed_lines); ``total_lines``; ``valid_events`` (distinct) and
    ``valid_lines`` (with duplicate deliveries); ``events_by_type`` (distinct valid events);
    ``duplicates`` (count, in_other_file); ``malformed`` (lines per quarantine reason);
    ``bots`` (anon_ids, events); ``late_events`` (delivered on a later UTC day than their ts day);
    ``delayed_events`` (the injected 1 hour to 2 days delays); ``valid_lines_by_event_day`` (valid
    lines, duplicates included, per UTC day of ts); ``incidents``; ``persons`` (persons,
    persons_with_multiple_devices, persons_logging_in, devices, shared_devices); ``reviews``
    (distinct review events: ``total``, ``by_sentiment`` of the non-spam ones, ``spam``, ``gold``,
    ``spam_event_ids``: the truth spam rules are measured against; ``near_duplicates``: the injected
    near-duplicate pairs, ``share`` and ``pairs`` of ``original``, ``copy`` event_ids and ``kind``,
    ``repost`` or ``changed_name``, see :func:`simulate._near_duplicates`).

    Gold labels, for checking human and weak labels: ``annotations/gold/gold-<start>-d<days>-s<seed>.csv``
    under ``landing_dir`` (written like the other files), header ``review_id,label,labeled_by``: a
    random ~3% (at least one per generated day that has any) of the non-spam reviews, by their
    ``event_id``, with their true sentiment (see :func:`simulate.review_truth`), labeled by ``expert``.

    Deterministic: the same arguments give byte-identical files and manifest. ``incidents`` may also
    be given as strings (``"category_drift@2026-11-05"``). ``events_per_day`` is the volume of
    valid events on a normal day (a weekly pattern moves it by a few percent; volume_drop by x0.3).
    """
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if events_per_day < MIN_EVENTS_PER_DAY:
        raise ValueError(f"events_per_day must be >= {MIN_EVENTS_PER_DAY}, got {events_per_day}")
    incidents = [parse_incident(i) if isinstance(i, str) else i for i in incidents]
    events_dir = Path(landing_dir) / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda message: None)
    world = build_world(events_per_day, seed)
    tally = _Tally()
    pending: dict[int, list[pl.DataFrame]] = {}  # delivery hour -> rendered lines from earlier days
    batch = f"{start.isoformat()}s{seed}"
    gold: list[tuple[str, str]] = []

    with _FileWriter(events_dir) as writer:
        for day_index in range(days):
            day = start + dt.timedelta(days=day_index)
            rng = np.random.default_rng([seed, day.toordinal()])
            active = [i for i in incidents if i.active_on(day)]
            events = simulate_day(world, day, events_per_day, active, rng)
            plan = _plan_lines(rng, events, day, day_index, tally)
            event_ids = random_uuid4(rng, len(events.cols["ts"]) + plan.n_malformed)
            frags = world.frags | events.frags | {"event_id": fragments("event_id", event_ids)}
            gold += _gold_sample(np.random.default_rng([seed, day.toordinal(), _GOLD_STREAM]), events, event_ids)
            tally.spam_event_ids += _reviews_of_pool(events, event_ids, SPAM_POOL)
            tally.near_duplicates += _near_duplicate_pairs(events, event_ids)
            hours = _hour_slices(plan.delivery)
            first_hour = epoch_ms(day) // HOUR_MS
            for hour in range(first_hour, first_hour + 24):
                frames = pending.pop(hour, [])
                if hour in hours:
                    frames.append(_render(plan, hours.pop(hour), events, frags, rng))
                if frames:
                    _write_hour(writer, hour, frames, seed, batch)
            for hour, rows in hours.items():  # delivered on a later day
                pending.setdefault(hour, []).append(_render(plan, rows, events, frags, rng))
            report(f"{day}: {len(events.cols['ts']):,} events in {len(plan.delivery):,} lines")
        for hour in sorted(pending):
            _write_hour(writer, hour, pending[hour], seed, batch)

    run_name = f"{start.isoformat()}-d{days}-s{seed}"
    _write_gold(Path(landing_dir) / "annotations" / "gold" / f"gold-{run_name}.csv", gold)
    tally.gold = len(gold)
    manifest = tally.manifest(world, start, days, events_per_day, seed, incidents, writer.files)
    path = events_dir / f"manifest-{run_name}.json"
    _write_atomic(path, (json.dumps(manifest, indent=2) + "\n").encode())
    report(f"wrote {len(manifest['files'])} files, {manifest['total_lines']:,} lines; manifest {path.name}")
    return manifest


# --- Planning the lines of a day ----------------------------------------------------------------


@dataclass
class _Plan:
    """The output lines of one generated day (originals, duplicate deliveries, malformed copies)."""

    src: np.ndarray  # the event each line copies
    eid: np.ndarray  # event_id code: duplicates keep the original's, malformed lines get a fresh one
    delivery: np.ndarray  # epoch ms the line is delivered (decides its file)
    dup: np.ndarray  # bool
    mal: np.ndarray  # index into MALFORMED_KINDS, or -1
    shard_key: np.ndarray  # a duplicate shares its original's, so the same hour means the same file
    seq: np.ndarray  # unique over the run: tie-break for the order inside a file
    n_malformed: int


def _plan_lines(rng: np.random.Generator, events: DayEvents, day: dt.date, day_index: int, tally: _Tally) -> _Plan:
    """Decide every line of the day (in delivery order) and add the day's ground truth to ``tally``."""
    ts = events.cols["ts"]
    etype = events.cols["etype"]
    n = len(ts)
    latest = epoch_ms(day) + (MAX_DELIVERY_DAYS_AFTER + 1) * DAY_MS - 1

    delayed = rng.random(n) < DELAYED_P
    delay = np.where(
        delayed,
        rng.uniform(HOUR_MS, 2 * DAY_MS, n),
        np.clip(rng.lognormal(np.log(15_000), 1.0, n), 200, 30 * MINUTE_MS),
    )
    delivery = np.minimum(ts + delay.astype(np.int64), latest)
    shard_key = rng.integers(0, 2**31, n)

    # Duplicate deliveries: the same line again, later in the same hour or a few hours later.
    dup_src = np.flatnonzero(rng.random(n) < DUPLICATE_P)
    first = delivery[dup_src]
    other_hour = rng.random(len(dup_src)) < DUPLICATE_OTHER_FILE_P
    same_hour_end = (first // HOUR_MS + 1) * HOUR_MS - 1
    dup_delivery = np.where(
        other_hour,
        first + rng.uniform(HOUR_MS, 6 * HOUR_MS, len(dup_src)),
        first + (same_hour_end - first) * rng.random(len(dup_src)),
    ).astype(np.int64)
    dup_delivery = np.minimum(dup_delivery, latest)

    # Malformed copies: every kind present each day, delivered with their source event.
    counts = np.maximum(1, rng.poisson(MALFORMED_P * n / len(MALFORMED_KINDS), len(MALFORMED_KINDS)))
    mal_kind = np.repeat(np.arange(len(MALFORMED_KINDS)), counts).astype(np.int8)
    mal_src = np.empty(len(mal_kind), dtype=np.int64)
    for k, kind in enumerate(MALFORMED_KINDS):
        allowed = [EVENT_TYPES.index(t) for t in SOURCE_TYPES.get(kind, EVENT_TYPES)]
        eligible = np.flatnonzero(np.isin(etype, allowed))
        mal_src[mal_kind == k] = rng.choice(eligible, counts[k])
    n_mal = len(mal_kind)

    originals = np.arange(n)
    plan = _Plan(
        src=np.concatenate([originals, dup_src, mal_src]),
        eid=np.concatenate([originals, dup_src, n + np.arange(n_mal)]).astype(np.int32),
        delivery=np.concatenate([delivery, dup_delivery, delivery[mal_src]]),
        dup=np.concatenate([np.zeros(n, bool), np.ones(len(dup_src), bool), np.zeros(n_mal, bool)]),
        mal=np.concatenate([np.full(n + len(dup_src), -1, np.int8), mal_kind]),
        shard_key=np.concatenate([shard_key, shard_key[dup_src], rng.integers(0, 2**31, n_mal)]),
        seq=(day_index << 40) + np.arange(n + len(dup_src) + n_mal),
        n_malformed=n_mal,
    )
    order = np.lexsort((plan.seq, plan.delivery))
    for name in ("src", "eid", "delivery", "dup", "mal", "shard_key", "seq"):
        setattr(plan, name, getattr(plan, name)[order])

    tally.events_by_type += np.bincount(etype, minlength=len(EVENT_TYPES))
    tally.review_pools += np.bincount(events.text_pool, minlength=len(REVIEW_POOLS))
    tally.bot_events += events.n_bot_events
    tally.late_events += int((delivery // DAY_MS > ts // DAY_MS).sum())
    tally.delayed_events += int(delayed.sum())
    tally.duplicates += len(dup_src)
    tally.duplicates_in_other_file += int((dup_delivery // HOUR_MS != first // HOUR_MS).sum())
    tally.malformed += counts
    valid_days, valid_counts = np.unique(np.concatenate([ts, ts[dup_src]]) // DAY_MS, return_counts=True)
    for d, c in zip(valid_days.tolist(), valid_counts.tolist()):
        tally.valid_lines_by_day[_EPOCH_DAY + dt.timedelta(days=d)] += c
    return plan


def _hour_slices(delivery: np.ndarray) -> dict[int, slice]:
    """Delivery hour -> the rows delivered in it (``delivery`` is sorted)."""
    hours = delivery // HOUR_MS
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(hours)) + 1, [len(hours)]])
    return {int(hours[a]): slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])}


def _render(
    plan: _Plan, rows: slice, events: DayEvents, frags: dict[str, pl.Series], rng: np.random.Generator
) -> pl.DataFrame:
    """The JSON lines of some planned rows, with what the file writer needs to order and count them."""
    src = plan.src[rows]
    cols = {name: values[src] for name, values in events.cols.items()}
    cols["eid"] = plan.eid[rows]
    lines = render_lines(cols, frags)
    mal = plan.mal[rows]
    bad = np.flatnonzero(mal >= 0)
    if len(bad):
        broken = [
            corrupt(MALFORMED_KINDS[mal[i]], line, int(cols["ts"][i]), rng)
            for i, line in zip(bad.tolist(), lines.gather(bad).to_list())
        ]
        lines = lines.scatter(bad, broken)
    return pl.DataFrame(
        {
            "delivery": plan.delivery[rows],
            "seq": plan.seq[rows],
            "shard_key": plan.shard_key[rows],
            "dup": plan.dup[rows],
            "mal": mal,
            "line": lines,
        }
    )


# --- Gold labels --------------------------------------------------------------------------------


def _gold_sample(rng: np.random.Generator, events: DayEvents, event_ids: pl.Series) -> list[tuple[str, str]]:
    """(event_id, true sentiment) of a random GOLD_SHARE of the day's non-spam reviews (at least one).

    Picked among the day's distinct events (an original's code is its row, and duplicate deliveries
    keep it; malformed copies have codes past the events), so each gold review has one valid event_id.
    """
    reviews = np.flatnonzero(events.cols["etype"] == _REVIEW)
    pool = events.text_pool[events.cols["text"][reviews]]
    candidates = reviews[pool != SPAM_POOL]
    if not len(candidates):
        return []
    k = max(1, round(GOLD_SHARE * len(candidates)))
    chosen = np.sort(rng.choice(candidates, k, replace=False))
    ids = event_ids.gather(chosen).to_list()
    labels = [REVIEW_POOLS[p] for p in events.text_pool[events.cols["text"][chosen]].tolist()]
    return list(zip(ids, labels))


def _reviews_of_pool(events: DayEvents, event_ids: pl.Series, pool: int) -> list[str]:
    """The event_ids of the day's distinct reviews whose text is of ``pool`` (e.g. SPAM_POOL)."""
    reviews = np.flatnonzero(events.cols["etype"] == _REVIEW)
    return event_ids.gather(reviews[events.text_pool[events.cols["text"][reviews]] == pool]).to_list()


def _near_duplicate_pairs(events: DayEvents, event_ids: pl.Series) -> list[dict]:
    """The day's injected near-duplicate pairs by event_id: original, copy, kind."""
    reviews = np.flatnonzero(events.cols["etype"] == _REVIEW)
    row_of_code = np.empty(len(reviews), np.int64)
    row_of_code[events.cols["text"][reviews]] = reviews
    return [
        {"original": event_ids[int(row_of_code[a])], "copy": event_ids[int(row_of_code[b])], "kind": kind}
        for a, b, kind in events.near_duplicates
    ]


def _write_gold(path: Path, gold: list[tuple[str, str]]) -> None:
    """The gold labels as CSV (review_id,label,labeled_by), written atomically."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(["review_id", "label", "labeled_by"])
    out.writerows((review_id, label, GOLD_LABELED_BY) for review_id, label in gold)
    _write_atomic(path, buffer.getvalue().encode())


# --- Writing ------------------------------------------------------------------------------------


class _FileWriter:
    """Compresses and writes files on a background thread (zlib and file I/O release the GIL), so
    rendering the next hour overlaps with writing this one. At most a few files are in flight."""

    def __init__(self, events_dir: Path, max_in_flight: int = 3):
        self.events_dir = events_dir
        self.max_in_flight = max_in_flight
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.in_flight: deque[Future] = deque()
        self.files: list[dict] = []

    def submit(self, record: dict, buffer: io.BytesIO) -> None:
        while len(self.in_flight) >= self.max_in_flight:
            self.in_flight.popleft().result()
        self.in_flight.append(self.pool.submit(self._write, record, buffer))

    def _write(self, record: dict, buffer: io.BytesIO) -> None:
        payload = buffer.getbuffer()
        if record["compressed"]:
            payload = gzip.compress(payload, compresslevel=GZIP_LEVEL, mtime=0)
        _write_atomic(self.events_dir / record["path"], payload)
        self.files.append(record | {"bytes": len(payload)})

    def __enter__(self) -> _FileWriter:
        return self

    def __exit__(self, *exc) -> None:
        """Wait for every file (re-raising a failed write), then sort the records by path."""
        try:
            while self.in_flight:
                self.in_flight.popleft().result()
        finally:
            self.pool.shutdown()
        self.files.sort(key=lambda f: f["path"])


def _write_hour(writer: _FileWriter, hour: int, frames: list[pl.DataFrame], seed: int, batch: str) -> None:
    """Write the lines delivered in one UTC hour: one file per shard, lines in delivery order.

    ``batch`` names the generation call (its first day and seed), so that calls for adjacent ranges,
    whose late deliveries share delivery days, never overwrite each other's files.
    """
    frame = pl.concat(frames)
    n_shards = -(-frame.height // MAX_LINES_PER_FILE)
    day = _EPOCH_DAY + dt.timedelta(days=hour // 24)
    hh = hour % 24
    frame = frame.with_columns(shard=pl.col("shard_key") % n_shards).sort(["shard", "delivery", "seq"])
    for (shard,), part in frame.partition_by("shard", as_dict=True, maintain_order=True).items():
        compressed = bool(np.random.default_rng([seed, day.toordinal(), hh, shard]).random() < GZIP_SHARE)
        buffer = io.BytesIO()
        part.select("line").write_csv(buffer, include_header=False, quote_style="never")
        mal = part["mal"].to_numpy()
        _patch_invalid_utf8(buffer, part["line"], np.flatnonzero(mal == _INVALID_UTF8))
        n_mal = int((mal >= 0).sum())
        name = f"events-{hh:02d}-{shard:02d}-{batch}.jsonl" + (".gz" if compressed else "")
        writer.submit(
            {
                "path": f"{day.isoformat()}/{name}",
                "compressed": compressed,
                "lines": part.height,
                "valid_lines": part.height - n_mal,
                "duplicate_lines": int(part["dup"].sum()),
                "malformed_lines": n_mal,
            },
            buffer,
        )


def _patch_invalid_utf8(buffer: io.BytesIO, lines: pl.Series, rows: np.ndarray) -> None:
    """Replace the invalid-UTF-8 marks of ``rows`` in the written lines by the bytes they stand for
    (same length, so in place)."""
    if not len(rows):
        return
    line_start = np.concatenate([[0], np.cumsum(lines.str.len_bytes().to_numpy() + 1)])
    with buffer.getbuffer() as view:
        for row in rows.tolist():
            line = lines[row]
            at = int(line_start[row]) + len(line[: line.index(INVALID_UTF8_MARK)].encode())
            view[at : at + len(INVALID_UTF8_BYTES)] = INVALID_UTF8_BYTES


def _write_atomic(path: Path, payload) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)


# --- Manifest -----------------------------------------------------------------------------------


@dataclass
class _Tally:
    """Ground truth accumulated while generating."""

    events_by_type: np.ndarray = field(default_factory=lambda: np.zeros(len(EVENT_TYPES), np.int64))
    bot_events: int = 0
    late_events: int = 0
    delayed_events: int = 0
    duplicates: int = 0
    duplicates_in_other_file: int = 0
    malformed: np.ndarray = field(default_factory=lambda: np.zeros(len(MALFORMED_KINDS), np.int64))
    valid_lines_by_day: Counter = field(default_factory=Counter)
    review_pools: np.ndarray = field(default_factory=lambda: np.zeros(len(REVIEW_POOLS), np.int64))
    gold: int = 0
    spam_event_ids: list[str] = field(default_factory=list)
    near_duplicates: list[dict] = field(default_factory=list)

    def manifest(
        self,
        world: World,
        start: dt.date,
        days: int,
        events_per_day: int,
        seed: int,
        incidents: list[Incident],
        files: list[dict],
    ) -> dict:
        valid_events = int(self.events_by_type.sum())
        return {
            "contract_version": CONTRACT_VERSION,
            "parameters": {
                "start": start.isoformat(),
                "days": days,
                "events_per_day": events_per_day,
                "seed": seed,
                "incidents": [i.to_dict() for i in incidents],
            },
            "files": files,
            "total_lines": sum(f["lines"] for f in files),
            "valid_events": valid_events,
            "valid_lines": valid_events + self.duplicates,
            "events_by_type": dict(zip(EVENT_TYPES, self.events_by_type.tolist())),
            "duplicates": {"count": self.duplicates, "in_other_file": self.duplicates_in_other_file},
            "malformed": dict(zip(MALFORMED_KINDS, self.malformed.tolist())),
            "bots": {"anon_ids": world.bot_anon_ids, "events": self.bot_events},
            "late_events": self.late_events,
            "delayed_events": self.delayed_events,
            "valid_lines_by_event_day": {d.isoformat(): c for d, c in sorted(self.valid_lines_by_day.items())},
            "incidents": [i.to_dict() for i in incidents],
            "persons": world.stats,
            "reviews": {
                "total": int(self.review_pools.sum()),
                "by_sentiment": {p: int(c) for p, c in zip(REVIEW_POOLS, self.review_pools) if p != "spam"},
                "spam": int(self.review_pools[SPAM_POOL]),
                "spam_event_ids": sorted(self.spam_event_ids),
                "gold": self.gold,
                "near_duplicates": {"share": NEAR_DUPLICATE_SHARE, "pairs": self.near_duplicates},
            },
        }
