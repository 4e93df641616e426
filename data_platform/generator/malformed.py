"""Malformed lines: copies of real events (with a fresh event_id) broken in one specific way.

Each kind produces a line whose *first* applicable quarantine reason (in the order of
``contracts.QUARANTINE_REASONS``) is that kind, so the ingestion must classify it exactly so.
Malformed lines are ~0.5% of a day, so they are corrupted one by one with ``json``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import numpy as np

from data_platform.contracts import QUARANTINE_REASONS, READ_REASONS, required_fields

MALFORMED_KINDS = tuple(reason for reason in QUARANTINE_REASONS if reason not in READ_REASONS)
# Event types a malformed line of a kind may be copied from (other kinds: any type).
SOURCE_TYPES = {"out_of_range": ("impression", "purchase", "review")}
# Lines are strings until written; this mark stands for (and is as long as) bytes that are not UTF-8.
INVALID_UTF8_MARK = "\x00\x00"
INVALID_UTF8_BYTES = b"\xff\xfe"
assert len(INVALID_UTF8_MARK.encode()) == len(INVALID_UTF8_BYTES)
UNKNOWN_EVENT_TYPES = ("page_view", "add_to_cart", "Impression", "clicks", "purchase_v2")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_YEAR_MS = 365 * 86_400_000


def corrupt(kind: str, line: str, ts_ms: int, rng: np.random.Generator) -> str:
    """Break a valid JSON line (of an event whose ts is ``ts_ms``) the way ``kind`` names."""
    return _CORRUPTERS[kind](line, ts_ms, rng)


def iso_utc(ms: int) -> str:
    """ISO-8601 UTC string with milliseconds and a Z offset."""
    text = (_EPOCH + dt.timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _dump(event: dict) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def _choose(rng: np.random.Generator, options: list):
    return options[int(rng.integers(len(options)))]


def _invalid_utf8(line: str, ts_ms: int, rng) -> str:
    at = line.index('"anon_id":"') + len('"anon_id":"') + int(rng.integers(0, 8))
    return line[:at] + INVALID_UTF8_MARK + line[at:]


def _empty_line(line: str, ts_ms: int, rng) -> str:
    return _choose(rng, ["", "", " ", "\t "])


def _not_json(line: str, ts_ms: int, rng) -> str:
    if rng.random() < 0.7:  # the producer died mid-write
        return line[: int(len(line) * rng.uniform(0.2, 0.9))]
    return line.replace('"event_type":', "event_type:", 1)  # unquoted key


def _not_an_object(line: str, ts_ms: int, rng) -> str:
    return _choose(rng, ["[" + line + "]", "[" + line + "]", str(ts_ms), "null"])


def _duplicate_key(line: str, ts_ms: int, rng) -> str:
    event = json.loads(line)
    if rng.random() < 0.5:
        return line[:-1] + ',"anon_id":' + json.dumps(event["anon_id"][::-1]) + "}"
    return '{"event_type":' + json.dumps(event["event_type"]) + "," + line[1:]


def _missing_required_field(line: str, ts_ms: int, rng) -> str:
    event = json.loads(line)
    names = required_fields(event["event_type"]) + (["currency"] if "price" in event else [])
    name = _choose(rng, names)
    if name == "currency" or rng.random() < 0.5:
        del event[name]
    else:
        event[name] = _choose(rng, [None, ""])
    return _dump(event)


def _unknown_event_type(line: str, ts_ms: int, rng) -> str:
    event = json.loads(line)
    event["event_type"] = _choose(rng, list(UNKNOWN_EVENT_TYPES))
    return _dump(event)


def _wrong_type(line: str, ts_ms: int, rng) -> str:
    event = json.loads(line)
    options = [("anon_id", ts_ms % 1_000_000_007), ("event_id", 42), ("ts", ts_ms / 1000)]
    if "position" in event:
        options += [("position", str(event["position"])), ("position", event["position"] + 0.5)]
    for name in ("price", "predicted_ctr"):
        if name in event:
            options.append((name, str(event[name])))
    if "rating" in event:
        options += [("rating", event["rating"] + 0.5), ("rating", str(event["rating"]))]
    if event.get("user_id"):
        options.append(("user_id", int(event["user_id"].lstrip("u"))))
    name, value = _choose(rng, options)
    event[name] = value
    return _dump(event)


def _bad_ts(line: str, ts_ms: int, rng) -> str:
    event = json.loads(line)
    event["ts"] = _choose(
        rng,
        [
            "yesterday",
            iso_utc(ts_ms)[:-1],  # no offset
            "2026-13-45T10:00:00Z",
            "02/11/2026 10:00:00",
            ts_ms * 1000,  # microseconds
            -1,
        ],
    )
    return _dump(event)


def _ts_out_of_range(line: str, ts_ms: int, rng) -> str:
    event = json.loads(line)
    shifted = ts_ms + _choose(rng, [-27, 73]) * _YEAR_MS  # 1999 or 2099
    event["ts"] = shifted if isinstance(event["ts"], int) else iso_utc(shifted)
    return _dump(event)


def _out_of_range(line: str, ts_ms: int, rng) -> str:
    event = json.loads(line)
    u = round(0.01 + 0.5 * float(rng.random()), 4)
    options = {
        "impression": [
            ("position", 0),
            ("position", -1),
            ("price", -event.get("price", 0) - 1),
            ("predicted_ctr", 1 + u),
            ("predicted_ctr", -u),
        ],
        "purchase": [("price", -event.get("price", 0) - 1)],
        "review": [("rating", 0), ("rating", 6)],
    }[event["event_type"]]
    name, value = _choose(rng, options)
    event[name] = value
    return _dump(event)


_CORRUPTERS: dict[str, Callable[[str, int, np.random.Generator], str]] = {
    "invalid_utf8": _invalid_utf8,
    "empty_line": _empty_line,
    "not_json": _not_json,
    "not_an_object": _not_an_object,
    "duplicate_key": _duplicate_key,
    "missing_required_field": _missing_required_field,
    "unknown_event_type": _unknown_event_type,
    "wrong_type": _wrong_type,
    "bad_ts": _bad_ts,
    "ts_out_of_range": _ts_out_of_range,
    "out_of_range": _out_of_range,
}
assert tuple(_CORRUPTERS) == MALFORMED_KINDS, "a quarantine reason has no malformed-line kind"
