"""Schema inference into a reviewable YAML file, and checking later spans against it.

``data-platform infer-schema --from A --to B`` profiles the reference window [A, B) of every monitored
table and writes ``data_platform/validation/schemas/<table>.yaml``: the columns and their types, and per
feature its kind, the lowest share of non-missing values seen on a day (``min_presence``), the value
range (numeric) and, for categoricals with a closed set of values, the domain. The file is meant to be
read, edited and committed like code: loosening a range or adding a value to a domain is a reviewed
change. Its ``version`` says which edit a check used.

Anomaly kinds a span can have against it: ``new_column``, ``missing_column``, ``type_change``,
``unexpected_values`` (categorical values outside the domain, with their share), ``out_of_range``
(numeric min or max outside the range, with the estimated share outside), ``presence_drop`` (the
non-missing share fell below ``min_presence`` less a tolerance).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

SCHEMA_DIR = Path(__file__).parent / "schemas"
MAX_DOMAIN = 60  # categoricals with more distinct values keep an open domain
PRESENCE_TOLERANCE = 0.05  # a drop of the non-missing share of more than this below the minimum seen
RANGE_SLACK = 0.5  # numeric ranges widen by half their width on each side before a value is out of range


def infer_schema(
    table: str,
    columns: Sequence[tuple[str, str]],
    stats: Sequence[Mapping],
    start_day: dt.date,
    end_day: dt.date,
    unbounded: frozenset[str] = frozenset(),
) -> dict:
    """The schema of ``table`` from its columns and its statistics rows over [start_day, end_day).
    Features in ``unbounded`` (counts that grow with traffic) get no range."""
    features: dict[str, dict] = {}
    for name in sorted({r["feature"] for r in stats}):
        rows = [r for r in stats if r["feature"] == name]
        kind = rows[0]["kind"]
        presence = min(1 - (r["missing"] / r["count"]) for r in rows if r["count"])
        entry: dict = {"kind": kind, "min_presence": round(float(presence), 4)}
        if kind in ("numeric", "text"):
            lows = [r["min"] for r in rows if r.get("min") is not None]
            highs = [r["max"] for r in rows if r.get("max") is not None]
            if lows and name not in unbounded:
                entry["range"] = [float(min(lows)), float(max(highs))]
        else:
            closed = all((r.get("other_count") or 0) == 0 for r in rows)
            values = sorted({v for r in rows for v in (r.get("top_values") or [])})
            if closed and len(values) <= MAX_DOMAIN:
                entry["domain"] = values
        features[name] = entry
    body = {
        "table": table,
        "inferred_from": [start_day.isoformat(), end_day.isoformat()],
        "columns": {name: typ for name, typ in columns},
        "features": features,
    }
    return {"version": _digest(body), **body}


def _digest(body: Mapping) -> str:
    return hashlib.sha256(yaml.safe_dump(dict(body), sort_keys=True).encode()).hexdigest()[:12]


def schema_path(table: str, schema_dir: Path = SCHEMA_DIR) -> Path:
    """Where the schema of ``table`` lives."""
    return Path(schema_dir) / f"{table}.yaml"


def write_schema(schema: Mapping, schema_dir: Path = SCHEMA_DIR) -> Path:
    """Write the schema as commented YAML; returns the path."""
    path = schema_path(schema["table"], schema_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Inferred schema of {schema['table']} from {schema['inferred_from'][0]} to "
        f"{schema['inferred_from'][1]} (end exclusive) by `data-platform infer-schema`.\n"
        "# Review it like code: widen a range or add a domain value here when a change is intended.\n"
        "# version: a hash of the content when inferred (kept as is when you edit the file by hand).\n"
    )
    path.write_text(header + yaml.safe_dump(dict(schema), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def read_schema(table: str, schema_dir: Path = SCHEMA_DIR) -> dict | None:
    """The committed schema of ``table``, or None when there is none yet."""
    path = schema_path(table, schema_dir)
    if not path.exists():
        return None
    schema = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(schema, dict) or {"table", "columns", "features"} - set(schema):
        raise ValueError(f"{path}: not a schema file (needs table, columns, features)")
    return schema


def check_against_schema(schema: Mapping, columns: Sequence[tuple[str, str]], stats: Sequence[Mapping]) -> list[dict]:
    """Anomalies of one span (its columns and its statistics rows) against ``schema``."""
    out: list[dict] = []
    expected = dict(schema["columns"])
    actual = dict(columns)
    for name in sorted(set(actual) - set(expected)):
        out.append(_anomaly("new_column", name, "ERROR", f"column {name} ({actual[name]}) is not in the schema"))
    for name in sorted(set(expected) - set(actual)):
        out.append(_anomaly("missing_column", name, "ERROR", f"column {name} ({expected[name]}) is gone"))
    for name in sorted(set(expected) & set(actual)):
        if expected[name] != actual[name]:
            out.append(_anomaly("type_change", name, "ERROR", f"{name}: {expected[name]} -> {actual[name]}"))
    for row in stats:
        spec = schema["features"].get(row["feature"])
        if spec is None or not row["count"]:
            continue
        out += _feature_anomalies(row, spec)
    return out


def _feature_anomalies(row: Mapping, spec: Mapping) -> list[dict]:
    name, out = row["feature"], []
    presence = 1 - row["missing"] / row["count"]
    floor = spec["min_presence"] - PRESENCE_TOLERANCE
    if presence < floor:
        severity = "ERROR" if presence < spec["min_presence"] - 4 * PRESENCE_TOLERANCE else "WARN"
        out.append(
            _anomaly(
                "presence_drop",
                name,
                severity,
                f"{presence:.1%} of rows have {name}, the schema expects at least {spec['min_presence']:.1%}",
                round(presence, 4),
            )
        )
    if "domain" in spec and row.get("top_values"):
        allowed = set(spec["domain"])
        non_null = max(row["count"] - row["missing"], 1)
        new = [(v, n) for v, n in zip(row["top_values"], row["top_counts"]) if v not in allowed]
        share = sum(n for _, n in new) / non_null
        if new:
            severity = "ERROR" if share >= 0.05 else "WARN"
            listed = ", ".join(f"{v!r} ({n / non_null:.1%})" for v, n in new[:5])
            out.append(
                _anomaly("unexpected_values", name, severity, f"values outside the domain: {listed}", round(share, 4))
            )
    if "range" in spec and row.get("min") is not None:
        lo, hi = spec["range"]
        slack = (hi - lo) * RANGE_SLACK
        outside = _share_outside(row, lo - slack, hi + slack)
        if row["min"] < lo - slack or row["max"] > hi + slack:
            severity = "ERROR" if outside >= 0.01 else "WARN"
            out.append(
                _anomaly(
                    "out_of_range",
                    name,
                    severity,
                    f"[{row['min']:g}, {row['max']:g}] leaves the schema range [{lo:g}, {hi:g}] "
                    f"(+/- {RANGE_SLACK:.0%} slack); about {outside:.1%} of values outside",
                    round(outside, 4),
                )
            )
    return out


def _share_outside(row: Mapping, lo: float, hi: float) -> float:
    """Estimated share of values outside [lo, hi] from the equal-width histogram (uniform in a bucket)."""
    edges, counts = row.get("hist_edges") or [], row.get("hist_counts") or []
    total = sum(counts)
    if not total:
        return 0.0
    inside = 0.0
    for a, b, n in zip(edges, edges[1:], counts):
        if b == a:
            inside += n if lo <= a <= hi else 0
        else:
            overlap = max(0.0, min(b, hi) - max(a, lo))
            inside += n * overlap / (b - a)
    return max(0.0, 1 - inside / total)


def _anomaly(kind: str, feature: str, severity: str, detail: str, value: float | None = None) -> dict:
    return {"kind": kind, "feature": feature, "severity": severity, "detail": detail, "value": value}
