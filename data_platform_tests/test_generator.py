"""Tests of the raw-log generator: files, manifest ground truth, malformed lines, realism, incidents.

The malformed lines are checked against a reference classifier written here from the contract's
rules (plain json/datetime), independent of both the generator and the ingestion SQL.
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from data_platform.contracts import EVENT_TYPES, FIELDS, QUARANTINE_REASONS, READ_REASONS, required_fields
from data_platform.generator import Incident, generate_logs, parse_incident

START = dt.date(2026, 11, 2)
DAYS = 4
INCIDENTS = (
    "category_drift@2026-11-04",
    "cents_prices@2026-11-04",
    "null_spike@2026-11-05:country",
    "volume_drop@2026-11-05",
)
UTC = dt.UTC
MIN_TS = dt.datetime(2026, 1, 1, tzinfo=UTC)
MAX_TS = dt.datetime(2027, 1, 1, tzinfo=UTC)
ISO_WITH_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)")
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31
FIELD_BY_NAME = {f.name: f for f in FIELDS}


# --- Reference classifier -----------------------------------------------------------------------


class _Object(dict):
    duplicate_key = False


def _object_pairs(pairs):
    obj = _Object(pairs)
    obj.duplicate_key = len(obj) != len(pairs)
    return obj


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _type_ok(kind: str, value) -> bool:
    if isinstance(value, bool):
        return False
    return {
        "string": isinstance(value, str),
        "integer": isinstance(value, int),
        "number": isinstance(value, (int, float)),
        "ts": isinstance(value, (str, int)),
    }[kind]


def parse_ts(value) -> dt.datetime | None:
    """The UTC instant of a ts value, or None when it is not usable."""
    if isinstance(value, int):
        if 0 <= value <= MAX_EPOCH_MS:
            return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=value)
        return None
    if not ISO_WITH_OFFSET.fullmatch(value):
        return None
    try:
        return dt.datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return None


def classify(raw: bytes) -> tuple[str | None, dict | None]:
    """(quarantine reason or None, parsed event) following the contract's ordered rules."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8", None
    if text.strip(" \t\r") == "":
        return "empty_line", None
    try:
        obj = json.loads(text, object_pairs_hook=_object_pairs, parse_constant=_reject_constant)
    except ValueError:
        return "not_json", None
    if not isinstance(obj, dict):
        return "not_an_object", None
    if obj.duplicate_key:
        return "duplicate_key", None
    event_type = obj.get("event_type")
    if event_type is None or event_type == "":
        return "missing_required_field", None
    if not isinstance(event_type, str):
        return "wrong_type", None
    if event_type not in EVENT_TYPES:
        return "unknown_event_type", None
    if any(obj.get(name) in (None, "") for name in required_fields(event_type)):
        return "missing_required_field", None
    if obj.get("price") not in (None, "") and obj.get("currency") in (None, ""):
        return "missing_required_field", None
    if any(obj.get(f.name) is not None and not _type_ok(f.kind, obj[f.name]) for f in FIELDS):
        return "wrong_type", None
    ts = parse_ts(obj["ts"])
    if ts is None:
        return "bad_ts", None
    if not MIN_TS <= ts <= MAX_TS:
        return "ts_out_of_range", None
    for f in FIELDS:
        value = obj.get(f.name)
        if value is None:
            continue
        if (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
            return "out_of_range", None
    return None, obj


# --- Reading what was generated -----------------------------------------------------------------


@dataclass
class Line:
    path: str
    delivery_day: dt.date
    raw: bytes
    reason: str | None
    event: dict | None

    @property
    def ts(self) -> dt.datetime:
        return parse_ts(self.event["ts"])


def read_file(events_dir: Path, rel: str) -> list[bytes]:
    data = (events_dir / rel).read_bytes()
    if rel.endswith(".gz"):
        data = gzip.decompress(data)
    assert data.endswith(b"\n"), f"{rel} does not end with a newline"
    return data[:-1].split(b"\n")


@dataclass
class Generated:
    events_dir: Path
    manifest: dict
    lines: list[Line]

    @property
    def valid(self) -> list[Line]:
        return [line for line in self.lines if line.reason is None]

    def unique_events(self) -> dict[str, Line]:
        """First delivery of every valid event, by event_id."""
        first: dict[str, Line] = {}
        for line in self.valid:
            first.setdefault(line.event["event_id"], line)
        return first


def load(events_dir: Path, manifest: dict) -> Generated:
    lines = []
    for f in manifest["files"]:
        day = dt.date.fromisoformat(f["path"].split("/")[0])
        for raw in read_file(events_dir, f["path"]):
            reason, event = classify(raw)
            lines.append(Line(f["path"], day, raw, reason, event))
    # Lines in a file are in delivery order; files sort by (day, hour): so this is delivery order.
    return Generated(events_dir, manifest, lines)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Generated:
    landing = tmp_path_factory.mktemp("landing")
    messages: list[str] = []
    manifest = generate_logs(
        landing, START, DAYS, 2000, seed=11, incidents=[parse_incident(s) for s in INCIDENTS], progress=messages.append
    )
    assert len(messages) == DAYS + 1
    return load(landing / "events", manifest)


@pytest.fixture(scope="module")
def bigger(tmp_path_factory) -> Generated:
    landing = tmp_path_factory.mktemp("landing_big")
    manifest = generate_logs(landing, START, 1, 20_000, seed=3)
    return load(landing / "events", manifest)


# --- Files and manifest -------------------------------------------------------------------------


def test_same_arguments_give_identical_bytes(tmp_path):
    def run(name: str, seed: int) -> dict[str, bytes]:
        generate_logs(tmp_path / name, START, 2, 1500, seed=seed, incidents=[Incident("cents_prices", START)])
        root = tmp_path / name / "events"
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    first, second, other_seed = run("a", 5), run("b", 5), run("c", 6)
    assert first.keys() == second.keys()
    assert all(first[k] == second[k] for k in first)
    assert "manifest-2026-11-02-d2-s5.json" in first
    assert first != other_seed


def test_files_match_the_manifest(generated):
    m = generated.manifest
    events_dir = generated.events_dir
    on_disk = sorted(p.relative_to(events_dir).as_posix() for p in events_dir.rglob("*") if p.is_file())
    listed = [f["path"] for f in m["files"]]
    assert on_disk == sorted(listed + [f"manifest-{START}-d{DAYS}-s11.json"])  # no .tmp left behind
    assert json.loads((events_dir / f"manifest-{START}-d{DAYS}-s11.json").read_text()) == m
    name = re.compile(r"\d{4}-\d{2}-\d{2}/events-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}s\d+\.jsonl(\.gz)?")
    assert all(name.fullmatch(p) for p in listed)
    gz = sum(p.endswith(".gz") for p in listed)
    assert 0.1 < gz / len(listed) < 0.45
    by_file = Counter(line.path for line in generated.lines)
    for f in m["files"]:
        assert by_file[f["path"]] == f["lines"]
        assert (events_dir / f["path"]).stat().st_size == f["bytes"]
        assert sum(1 for line in generated.lines if line.path == f["path"] and line.reason) == f["malformed_lines"]
    assert m["total_lines"] == len(generated.lines)
    assert m["valid_lines"] == len(generated.valid)
    # Late and duplicate deliveries spill into the days after the last generated day.
    last = START + dt.timedelta(days=DAYS - 1)
    delivery_days = {dt.date.fromisoformat(p.split("/")[0]) for p in listed}
    assert max(delivery_days) > last
    assert max(delivery_days) <= last + dt.timedelta(days=2)


def test_big_hours_are_split_into_shards(tmp_path, monkeypatch):
    monkeypatch.setattr("data_platform.generator.logs.MAX_LINES_PER_FILE", 60)
    manifest = generate_logs(tmp_path, START, 1, 2000, seed=2)
    g = load(tmp_path / "events", manifest)
    shards = Counter(f["path"].split("/events-")[1][:2] + f["path"][:10] for f in manifest["files"])  # day+hour
    assert max(shards.values()) >= 3
    assert max(f["lines"] for f in manifest["files"]) < 2 * 60
    copies = defaultdict(list)
    for line in g.valid:
        copies[line.event["event_id"]].append(line.path)
    other_file = sum(p != paths[0] for paths in copies.values() for p in paths[1:])
    assert other_file == manifest["duplicates"]["in_other_file"]  # a duplicate stays in its shard


def test_malformed_lines_match_an_independent_classification(generated):
    m = generated.manifest
    expected = {k: v for k, v in m["malformed"].items()}
    assert list(expected) == [r for r in QUARANTINE_REASONS if r not in READ_REASONS]
    assert Counter(line.reason for line in generated.lines if line.reason) == Counter(expected)
    # every kind on every generated day (malformed lines sit in files of their source's delivery day)
    for day in range(DAYS):
        delivery_day = START + dt.timedelta(days=day)
        kinds = {line.reason for line in generated.lines if line.reason and line.delivery_day >= delivery_day}
        assert kinds == set(expected), delivery_day
    assert all(b"\xff\xfe" in line.raw for line in generated.lines if line.reason == "invalid_utf8")
    share = sum(expected.values()) / m["total_lines"]
    assert 0.002 < share < 0.02


def test_valid_events_follow_the_contract(generated):
    spike = next(i for i in generated.manifest["incidents"] if i["kind"] == "null_spike")
    for line in generated.valid:
        event = line.event
        for name in required_fields(event["event_type"]):
            assert event.get(name) not in (None, ""), (name, line.raw)
        assert set(event) <= set(FIELD_BY_NAME)
        nulls = {k for k, v in event.items() if v is None}
        assert nulls <= {"user_id", spike["field"]}, line.raw
        if "price" in event:
            assert event["currency"] in ("EUR", "USD", "GBP")
        if "predicted_ctr" in event:
            assert 0 <= event["predicted_ctr"] <= 1
        if event.get("device") is not None:
            assert event["device"] in ("ios", "android", "web")
        if event.get("country") is not None:
            assert re.fullmatch(r"[A-Z]{2}", event["country"])
    types = Counter(line.event["event_type"] for line in generated.unique_events().values())
    assert dict(types) == {k: v for k, v in generated.manifest["events_by_type"].items() if v}
    shares = {t: n / sum(types.values()) for t, n in types.items()}
    assert 0.7 < shares["impression"] < 0.9
    assert 0.04 < shares["click"] < 0.10
    assert 0.03 < shares["login"] < 0.07
    assert 0.004 < shares["purchase"] < 0.02 and 0.004 < shares["review"] < 0.02


def test_volume_per_day_and_expected_lines_per_event_day(generated):
    m = generated.manifest
    by_day = Counter(line.ts.date().isoformat() for line in generated.valid)
    assert dict(by_day) == m["valid_lines_by_event_day"]
    unique_by_day = Counter(line.ts.date() for line in generated.unique_events().values())
    for day in range(DAYS - 1):  # the last day also has events in its successor: skip the edge
        d = START + dt.timedelta(days=day)
        expected = 2000 * (0.3 if d >= dt.date(2026, 11, 5) else 1.0)
        assert abs(unique_by_day[d] / expected - 1) < 0.1, (d, unique_by_day[d])


def test_timestamps_mix_iso_offsets_and_epoch_ms(generated):
    ts_values = [line.event["ts"] for line in generated.valid]
    epoch = sum(isinstance(v, int) for v in ts_values)
    assert 0.15 < epoch / len(ts_values) < 0.5  # the format is per device: noisy at this size
    suffixes = Counter(re.search(r"(Z|[+-]\d\d:\d\d)$", v).group(1) for v in ts_values if isinstance(v, str))
    assert {"Z", "+01:00", "-05:00", "+05:30"} <= set(suffixes)
    # Local time is rendered so that the instant is right: a device's events stay in its own day's
    # range whatever the offset.
    for line in generated.valid[:2000]:
        assert START <= line.ts.date() <= START + dt.timedelta(days=DAYS)


def test_duplicates_are_identical_lines_some_in_other_files(generated):
    copies: dict[str, list[Line]] = defaultdict(list)
    for line in generated.valid:
        copies[line.event["event_id"]].append(line)
    duplicated = {k: v for k, v in copies.items() if len(v) > 1}
    assert sum(len(v) - 1 for v in duplicated.values()) == generated.manifest["duplicates"]["count"]
    assert all(len({line.raw for line in v}) == 1 for v in duplicated.values())
    other_file = sum(line.path != v[0].path for v in duplicated.values() for line in v[1:])
    assert other_file == generated.manifest["duplicates"]["in_other_file"]
    assert 0.15 < other_file / generated.manifest["duplicates"]["count"] < 0.5
    assert 0.02 < generated.manifest["duplicates"]["count"] / len(generated.valid) < 0.04


def test_late_events_land_in_later_days(generated):
    late = sum(line.delivery_day > line.ts.date() for line in generated.unique_events().values())
    assert late == generated.manifest["late_events"]
    assert late > 0.01 * len(generated.unique_events())


def test_bots(generated):
    bots = set(generated.manifest["bots"]["anon_ids"])
    events = [line.event for line in generated.unique_events().values()]
    bot_events = [e for e in events if e["anon_id"] in bots]
    assert len(bot_events) == generated.manifest["bots"]["events"]
    assert 0.02 < len(bot_events) / len(events) < 0.04
    agents = {e.get("user_agent") for e in bot_events}
    assert any(a and re.search(r"bot|python-requests|curl|HeadlessChrome|Scrapy", a) for a in agents)
    impression_ids = {e["impression_id"] for e in events if e["event_type"] == "impression"}
    bot_clicks = [e for e in bot_events if e["event_type"] == "click"]
    assert bot_clicks and not any(e["impression_id"] in impression_ids for e in bot_clicks)
    # Inhuman rate: most consecutive events of a bot come less than 3 s apart; people browse slower.
    times = defaultdict(list)
    for e in events:
        times[e["anon_id"]].append(parse_ts(e["ts"]).timestamp())

    def fast_gaps(anon_ids) -> float:
        gaps = [b - a for anon in anon_ids for a, b in itertools.pairwise(sorted(times[anon]))]
        return sum(g < 3 for g in gaps) / len(gaps)

    assert all(fast_gaps([bot]) > 0.5 for bot in bots)
    assert fast_gaps(set(times) - bots) < 0.4


def test_clicks_follow_their_impressions(generated):
    events = [line.event for line in generated.unique_events().values()]
    bots = set(generated.manifest["bots"]["anon_ids"])
    impressions = {e["impression_id"]: e for e in events if e["event_type"] == "impression"}
    clicks = [e for e in events if e["event_type"] == "click" and e["anon_id"] not in bots]
    delays = []
    for click in clicks:
        impression = impressions[click["impression_id"]]
        assert (click["item_id"], click["anon_id"]) == (impression["item_id"], impression["anon_id"])
        delays.append((parse_ts(click["ts"]) - parse_ts(impression["ts"])).total_seconds())
    assert min(delays) > 0
    assert 0.5 < sum(d < 300 for d in delays) / len(delays) and any(d > 1800 for d in delays)


def test_users_devices_and_logins(generated):
    persons = generated.manifest["persons"]
    assert 0 < persons["persons_with_multiple_devices"] < persons["persons"]
    assert 0.4 < persons["persons_logging_in"] / persons["persons"] < 0.8
    events = [line.event for line in generated.unique_events().values()]
    devices_of_user = defaultdict(set)
    for e in events:
        if e["event_type"] == "login":
            devices_of_user[e["user_id"]].add(e["anon_id"])
    assert any(len(d) > 1 for d in devices_of_user.values())
    assert any("user_id" in e and e["user_id"] is None for e in events)  # a few explicit nulls


def test_reviews_rating_sentiment_pii_and_spam(bigger):
    reviews = [line.event for line in bigger.unique_events().values() if line.event["event_type"] == "review"]
    assert {r["rating"] for r in reviews} == {1, 2, 3, 4, 5}
    authors = defaultdict(set)
    for r in reviews:
        authors[r["text"]].add(r["anon_id"])
    spam = [t for t in authors if re.search(r"http|www\.", t) and len(authors[t]) > 2]
    assert spam  # the same promotional text from many devices
    texts = set(authors)
    assert any(re.search(r"[\w.]+@[\w.]+|\+\d[\d ()-]{8,}|\d{4} \d{4} \d{4} \d{4}", t) for t in texts)
    happy = [r for r in reviews if "Great quality" in r["text"] or "Love it" in r["text"]]
    angry = [r for r in reviews if "Terrible" in r["text"] or "Broke after" in r["text"]]
    assert all(r["rating"] >= 4 for r in happy) and all(r["rating"] <= 2 for r in angry)


def test_clicks_decay_with_position_and_predicted_ctr_is_informative(bigger):
    events = [line.event for line in bigger.unique_events().values()]
    bots = set(bigger.manifest["bots"]["anon_ids"])
    clicked = {e["impression_id"] for e in events if e["event_type"] == "click"}
    shown = [e for e in events if e["event_type"] == "impression" and e["anon_id"] not in bots]

    def ctr(rows):
        return sum(e["impression_id"] in clicked for e in rows) / len(rows)

    assert ctr([e for e in shown if e["position"] == 1]) > 2 * ctr([e for e in shown if e["position"] == 5])
    predicted_clicked = [e["predicted_ctr"] for e in shown if e["impression_id"] in clicked]
    predicted_not = [e["predicted_ctr"] for e in shown if e["impression_id"] not in clicked]
    assert sum(predicted_clicked) / len(predicted_clicked) > 1.5 * sum(predicted_not) / len(predicted_not)


# --- Incidents ----------------------------------------------------------------------------------


def _by_generated_day(generated: Generated, start: str) -> tuple[list[dict], list[dict]]:
    """Valid unique events before / from an incident's start (by their ts day)."""
    day = dt.date.fromisoformat(start)
    events = list(generated.unique_events().values())
    return (
        [line.event for line in events if line.ts.date() < day],
        [line.event for line in events if line.ts.date() >= day],
    )


def test_incidents_are_recorded(generated):
    assert generated.manifest["incidents"] == [parse_incident(s).to_dict() for s in INCIDENTS]
    assert generated.manifest["parameters"]["incidents"] == generated.manifest["incidents"]


def test_category_drift(generated):
    before, after = _by_generated_day(generated, "2026-11-04")

    def share(events):
        impressions = [e for e in events if e["event_type"] == "impression"]
        return sum(e["category"] == "electronics" for e in impressions) / len(impressions)

    assert share(before) < 0.15 and share(after) > 0.33


def test_cents_prices_only_from_the_new_app_version_after_start(generated):
    before, after = _by_generated_day(generated, "2026-11-04")
    assert not any(e.get("app_version") == "3.2.0" for e in before)
    assert not any(isinstance(e.get("price"), int) for e in before)
    priced = [e for e in after if "price" in e and e.get("app_version") is not None]
    cents = [e for e in priced if e["app_version"] == "3.2.0"]
    assert all(isinstance(e["price"], int) for e in cents)
    assert not any(isinstance(e["price"], int) for e in priced if e["app_version"] != "3.2.0")
    assert 0.1 < len(cents) / len(priced) < 0.3


def test_null_spike(generated):
    before, after = _by_generated_day(generated, "2026-11-05")

    def missing(events):
        return sum(e.get("country") is None for e in events) / len(events)

    assert missing(before) < 0.03 and 0.3 < missing(after) < 0.5
    assert any("country" in e and e["country"] is None for e in after)  # some explicit nulls too


# --- parse_incident -----------------------------------------------------------------------------


def test_parse_incident():
    assert parse_incident("category_drift@2026-11-05") == Incident("category_drift", dt.date(2026, 11, 5))
    assert parse_incident("null_spike@2026-11-03").field == "country"
    assert parse_incident("null_spike@2026-11-03:ip") == Incident("null_spike", dt.date(2026, 11, 3), "ip")


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "category_drift",
        "category_drift@",
        "@2026-11-05",
        "meteor@2026-11-05",
        "category_drift@2026-13-05",
        "category_drift@20261105",
        "category_drift@2026-11-05:country",
        "null_spike@2026-11-05:",
        "null_spike@2026-11-05:event_id",
        "null_spike@2026-11-05:currency",
        "null_spike@2026-11-05:colour",
    ],
)
def test_parse_incident_rejects(spec):
    with pytest.raises(ValueError, match="incident|null_spike|only null_spike"):
        parse_incident(spec)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="days"):
        generate_logs(tmp_path, START, 0, 2000, seed=1)
    with pytest.raises(ValueError, match="events_per_day"):
        generate_logs(tmp_path, START, 1, 10, seed=1)
