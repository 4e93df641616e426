"""The monitoring report: one self-contained HTML page per run (inline CSS and SVG, no script, no
external resource), and a short markdown summary for the Dagster metadata.

:func:`render_report` takes feature statistics rows (see :data:`data_platform.validation.STATS_COLUMNS`)
of the profiled partition and, optionally, of a reference span, the drift rows (``table``, ``feature``,
``metric``, ``value``, ``warn``, ``error``, ``severity`` and optionally ``top_movers``, a list of dicts)
and the anomalies (``table``, ``kind``, ``feature``, ``severity``, ``detail``). Every piece of text
that comes from the data (table and feature names, category values, details) is HTML-escaped: a
category value can hold ``<``, ``&`` or quotes. :func:`write_report` writes the page atomically;
:func:`summary_markdown` gives the counts and the worst findings in a few lines.
"""

from __future__ import annotations

import html
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from data_platform.base.identifiers import mask_text
from data_platform.metadata import markdown_table
from data_platform.validation import QUANTILES

SEVERITY_ORDER = {"ERROR": 0, "WARN": 1, "OK": 2}
CHART_WIDTH = 380
HIST_HEIGHT = 150
TOP_BARS = 10  # categories drawn per categorical feature (plus the other values)
LABEL_CHARS = 20
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 1.5rem; color: #1f2933; background: #fff; }
h1 { font-size: 1.5rem; margin: 0 0 .3rem; }
h2 { font-size: 1.2rem; margin: 1.8rem 0 .6rem; border-bottom: 1px solid #d9dee3; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .5rem; }
h4 { font-size: .95rem; margin: 0 0 .4rem; overflow-wrap: anywhere; }
header p { margin: .2rem 0; }
.badge { display: inline-block; padding: .1rem .55rem; border-radius: .8rem; font-weight: 600;
         font-size: .85rem; margin-right: .4rem; }
.sev-ERROR { background: #fde2e1; color: #a61b1b; }
.sev-WARN { background: #fff1c2; color: #8a5a00; }
.sev-OK { background: #e3f6e8; color: #1d6b35; }
.sev-other { background: #eceff3; color: #3e4c59; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { border: 1px solid #d9dee3; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f5f7fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.detail, td.movers { max-width: 36rem; overflow-wrap: anywhere; }
.cards { display: flex; flex-wrap: wrap; gap: 1rem; }
.card { border: 1px solid #d9dee3; border-radius: .4rem; padding: .7rem; width: 400px; }
.card table { width: 100%; margin-top: .4rem; }
.kind { color: #616e7c; font-weight: normal; font-size: .8rem; }
.empty { color: #616e7c; font-style: italic; }
svg text { font-family: inherit; font-size: 10px; fill: #3e4c59; }
figure { margin: .4rem 0; }
.moved p { font-size: .85rem; margin: .2rem 0 .4rem; }
figcaption { font-size: .8rem; color: #616e7c; }
"""

CURRENT_COLOR = "#2f6fdf"
REFERENCE_COLOR = "#9aa5b1"


def _svg_open(width: float, height: float, aria: str) -> list[str]:
    """The opening of an accessible inline SVG chart: its element and title, as parts to extend."""
    return [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{_e(aria)}">',
        f"<title>{_e(aria)}</title>",
    ]


def _e(value: Any) -> str:
    """HTML-escaped text of a value (quotes too: the same helper fills attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _severity_class(severity: Any) -> str:
    return f"sev-{severity}" if severity in SEVERITY_ORDER else "sev-other"


def _severity_counts(items: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    counts = {"ERROR": 0, "WARN": 0}
    for item in items:
        if item.get("severity") in counts:
            counts[item["severity"]] += 1
    return counts


def _by_severity(items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(items, key=lambda r: SEVERITY_ORDER.get(r.get("severity"), 3))


def _mover_text(mover: Mapping[str, Any]) -> str:
    """``label: reference share → current share (delta)`` of one top mover, whatever its label key."""
    if "range" in mover and isinstance(mover["range"], (list, tuple)) and len(mover["range"]) == 2:
        label = f"[{_num(mover['range'][0])}, {_num(mover['range'][1])})"
    elif "value" in mover:
        label = str(mover["value"])
    else:
        label = ", ".join(
            f"{k}={v}" for k, v in mover.items() if k not in ("reference_share", "current_share", "delta")
        )
    parts = [label]
    if "reference_share" in mover or "current_share" in mover:
        parts.append(f"{_pct(mover.get('reference_share'))} → {_pct(mover.get('current_share'))}")
    if mover.get("delta") is not None:
        parts.append(f"({100 * float(mover['delta']):+.1f} pp)")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------------
# charts


def _shares(counts: Sequence[int] | None) -> list[float]:
    total = sum(counts or [])
    return [c / total for c in counts] if total else []


def _histogram_svg(
    name: str, kind: str, current: Mapping | None, reference: Mapping | None, bins: str = "each side's own"
) -> str:
    """Equal-width histograms as shares, current over reference, each drawn by its own edges on a
    common x axis (a degenerate ``[v, v]`` bin is drawn as a thin bar at v). ``bins`` says whose edges they
    are, for the chart's title. Each bar carries its series and share (``data-series``, ``data-share``)."""
    series = []
    for label, row, color, opacity in (
        ("reference", reference, REFERENCE_COLOR, 0.55),
        ("current", current, CURRENT_COLOR, 0.55),
    ):
        if row and row.get("hist_edges") and row.get("hist_counts") and sum(row["hist_counts"]):
            series.append((label, list(map(float, row["hist_edges"])), _shares(row["hist_counts"]), color, opacity))
    width, height = CHART_WIDTH, HIST_HEIGHT
    left, right, top, bottom = 54, width - 8, 18, height - 22
    out = _svg_open(
        width,
        height,
        f"{name}: histogram of {'text length' if kind == 'text' else 'values'} on {bins} bins, current over reference",
    )
    if not series:
        out.append(f'<text x="{left}" y="{height / 2}">no values</text></svg>')
        return "".join(out)
    lo = min(s[1][0] for s in series)
    hi = max(s[1][-1] for s in series)
    if hi == lo:
        pad = abs(lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
    ymax = max(max(s[2]) for s in series) or 1.0

    def sx(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (right - left)

    def sy(share: float) -> float:
        return bottom - share / ymax * (bottom - top)

    for label, edges, shares, color, opacity in series:
        for i, share in enumerate(shares):
            x0, x1 = sx(edges[i]), sx(edges[i + 1])
            w = max(x1 - x0, 2.0)
            if x1 - x0 < 2.0:
                x0 = min(max(x0 - 1.0, left), right - w)
            y = sy(share)
            out.append(
                f'<rect x="{x0:.2f}" y="{y:.2f}" width="{w:.2f}" height="{bottom - y:.2f}" '
                f'fill="{color}" fill-opacity="{opacity}" data-series="{label}" data-share="{share:.6f}">'
                f"<title>{_e(label)}: "
                f"[{_e(_num(edges[i]))}, {_e(_num(edges[i + 1]))}] {_e(_pct(share))}</title></rect>"
            )
    out.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#616e7c"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#616e7c"/>')
    out.append(f'<text x="{left}" y="{height - 8}">{_e(_num(lo))}</text>')
    out.append(f'<text x="{right}" y="{height - 8}" text-anchor="end">{_e(_num(hi))}</text>')
    out.append(
        f'<text x="{(left + right) / 2}" y="{height - 8}" text-anchor="middle">'
        f"{'length (characters)' if kind == 'text' else 'value'}</text>"
    )
    out.append(f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_e(_pct(ymax))}</text>')
    out.append(f'<text x="{left - 4}" y="{bottom}" text-anchor="end">0</text>')
    out.append(_legend(right, [s[0] for s in reversed(series)]))
    out.append("</svg>")
    return "".join(out)


def _legend(right: float, labels: Sequence[str]) -> str:
    colors = {"current": CURRENT_COLOR, "reference": REFERENCE_COLOR}
    parts, x = [], right
    for label in reversed(labels):
        x -= 8 + 6 * len(label) + 14
        parts.append(
            f'<rect x="{x:.0f}" y="4" width="10" height="10" fill="{colors[label]}" fill-opacity="0.7"/>'
            f'<text x="{x + 14:.0f}" y="13">{_e(label)}</text>'
        )
    return "".join(parts)


def _category_shares(row: Mapping | None) -> tuple[dict[str, float], float]:
    """Shares among non-NULL rows of the top values, and of the other values."""
    if not row or not row.get("top_values"):
        return {}, 0.0
    non_null = (row.get("count") or 0) - (row.get("missing") or 0)
    if non_null <= 0:
        return {}, 0.0
    shares = {str(v): c / non_null for v, c in zip(row["top_values"], row["top_counts"] or [])}
    return shares, (row.get("other_count") or 0) / non_null


def _bars_svg(name: str, current: Mapping | None, reference: Mapping | None) -> str:
    """Grouped horizontal bars: the most frequent values (by the larger of both shares), current and
    reference share side by side, then the other values. Values are shown masked (an identifier in a
    category becomes a placeholder); each bar carries its series, value and share (``data-*``)."""
    cur, cur_other = _category_shares(current)
    ref, ref_other = _category_shares(reference)
    labels = sorted(set(cur) | set(ref), key=lambda v: (-max(cur.get(v, 0.0), ref.get(v, 0.0)), v))[:TOP_BARS]
    rows: list[tuple[str, float | None, float | None, bool]] = [
        (v, cur.get(v, 0.0) if current else None, ref.get(v, 0.0) if reference else None, False) for v in labels
    ]
    if cur_other or ref_other:
        rows.append(("(other values)", cur_other if current else None, ref_other if reference else None, True))
    width = CHART_WIDTH
    label_w, row_h, top = 140, 24, 22
    height = top + row_h * max(len(rows), 1) + 6
    out = _svg_open(width, height, f"{name}: shares of the most frequent values, current vs reference")
    if not rows:
        out.append(f'<text x="8" y="{top + 12}">no values</text></svg>')
        return "".join(out)
    smax = max([s for _, c, r, _ in rows for s in (c, r) if s is not None] + [1e-12])
    bar_max = width - label_w - 48
    for i, (value, c, r, other) in enumerate(rows):
        y = top + i * row_h
        label = value if other else mask_text(value)
        shown = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
        style = ' font-style="italic"' if other else ""
        out.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end"{style}><title>{_e(label)}</title>'
            f"{_e(shown)}</text>"
        )
        for j, (share, color, series) in enumerate(((c, CURRENT_COLOR, "current"), (r, REFERENCE_COLOR, "reference"))):
            if share is None:
                continue
            w = share / smax * bar_max
            out.append(
                f'<rect x="{label_w}" y="{y + 2 + j * 10}" width="{w:.2f}" height="9" fill="{color}" '
                f'data-series="{series}" data-value="{_e(label)}" data-share="{share:.6f}">'
                f"<title>{_e(series)}: {_e(_pct(share))}</title></rect>"
            )
            out.append(f'<text x="{label_w + w + 3:.2f}" y="{y + 10 + j * 10}" font-size="9">{_e(_pct(share))}</text>')
    out.append(_legend(width - 8, [s for s, row in (("current", current), ("reference", reference)) if row]))
    out.append("</svg>")
    return "".join(out)


SEVERITY_COLORS = {"ERROR": "#c81e1e", "WARN": "#d69e00", "OK": "#1d6b35"}


def _series_svg(name: str, metric: str, comparison: str, series: Sequence[Mapping]) -> str:
    """The drift score day by day: a line with one point per day (coloured by its severity; its day,
    score and severity in ``data-*`` and in its tooltip), the warn and error limits of the last day as
    dashed lines, on a day axis."""
    points = [p for p in series if p.get("value") is not None]
    width, height = CHART_WIDTH, HIST_HEIGHT
    left, right, top, bottom = 54, width - 12, 18, height - 22
    out = _svg_open(width, height, f"{name}: {metric} ({comparison}) day by day")
    if not points:
        out.append(f'<text x="{left}" y="{height / 2}">no score</text></svg>')
        return "".join(out)
    first, last = points[0]["day"], points[-1]["day"]
    span = max((last - first).days, 1)
    limits = [(k, points[-1].get(k)) for k in ("warn", "error") if points[-1].get(k) is not None]
    ymax = max([float(p["value"]) for p in points] + [float(v) for _, v in limits]) * 1.1 or 1.0

    def sx(day) -> float:
        return left + (day - first).days / span * (right - left) if last != first else (left + right) / 2

    def sy(value: float) -> float:
        return bottom - value / ymax * (bottom - top)

    for key, value in limits:
        y = sy(float(value))
        out.append(
            f'<line x1="{left}" y1="{y:.2f}" x2="{right}" y2="{y:.2f}" stroke="{SEVERITY_COLORS[key.upper()]}" '
            f'stroke-dasharray="4 3"/><text x="{right}" y="{y - 3:.2f}" text-anchor="end">'
            f"{key} {_e(_num(value))}</text>"
        )
    path = " ".join(f"{sx(p['day']):.2f},{sy(float(p['value'])):.2f}" for p in points)
    out.append(f'<polyline points="{path}" fill="none" stroke="{CURRENT_COLOR}" stroke-width="1.5"/>')
    for p in points:
        color = SEVERITY_COLORS.get(str(p.get("severity")), REFERENCE_COLOR)
        out.append(
            f'<circle cx="{sx(p["day"]):.2f}" cy="{sy(float(p["value"])):.2f}" r="3.5" fill="{color}" '
            f'data-day="{_e(p["day"])}" data-value="{float(p["value"])!r}" data-severity="{_e(p.get("severity"))}">'
            f"<title>{_e(p['day'])}: {_e(metric)} {_e(_num(p['value']))} ({_e(p.get('severity'))})</title></circle>"
        )
    out.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#616e7c"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#616e7c"/>')
    out.append(f'<text x="{left}" y="{height - 8}">{_e(first)}</text>')
    if last != first:
        out.append(f'<text x="{right}" y="{height - 8}" text-anchor="end">{_e(last)}</text>')
    out.append(f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_e(_num(ymax))}</text>')
    out.append(f'<text x="{left - 4}" y="{bottom}" text-anchor="end">0</text>')
    out.append(f'<text x="{left + 4}" y="{top - 6}">{_e(metric)}</text>')
    out.append("</svg>")
    return "".join(out)


def _moved_html(moved: Sequence[Mapping[str, Any]]) -> str:
    """The "What moved" section: per feature with a WARN or ERROR drift, since when, its distribution
    (reference vs current, shared bins or values) and its drift score over time."""
    if not moved:
        return '<p class="empty">No feature moved.</p>'
    cards = []
    for i, m in enumerate(moved):
        name = f"{m.get('table')}.{m.get('feature')}"
        since = m.get("since")
        days = len([p for p in m.get("series") or [] if since is not None and p["day"] >= since])
        when = (
            f"moved since <strong>{_e(since)}</strong> ({days} day{'s' if days != 1 else ''} of WARN or ERROR)"
            if since is not None
            else "moved today"
        )
        d = m.get("distribution") or {}
        if not d:
            chart = '<p class="empty">No distribution (the comparison has no sides).</p>'
        elif d["kind"] == "categorical":
            chart = _bars_svg(name, d.get("current"), d.get("reference"))
        else:
            chart = _histogram_svg(name, d["kind"], d.get("current"), d.get("reference"), "shared")
        cards.append(
            f'<div class="card moved" id="moved-{i}" data-table="{_e(m.get("table"))}" '
            f'data-feature="{_e(m.get("feature"))}" data-comparison="{_e(m.get("comparison"))}" '
            f'data-metric="{_e(m.get("metric"))}"><h4>{_e(name)} '
            f'<span class="badge {_severity_class(m.get("severity"))}">{_e(m.get("severity"))}</span></h4>'
            f"<p>{_e(m.get('metric'))} {_e(_num(m.get('value')))} ({_e(m.get('comparison'))}); {when}</p>"
            f"<figure><figcaption>Distribution, reference vs current</figcaption>{chart}</figure>"
            f"<figure><figcaption>Drift score over time</figcaption>"
            f"{_series_svg(name, str(m.get('metric')), str(m.get('comparison')), m.get('series') or [])}</figure></div>"
        )
    return f'<div class="cards">{"".join(cards)}</div>'


# ---------------------------------------------------------------------------------------------------
# tables


def _summary_table(kind: str, current: Mapping | None, reference: Mapping | None) -> str:
    sides = [("current", current), ("reference", reference)] if reference is not None else [("current", current)]

    def missing_pct(row: Mapping | None) -> str:
        if not row or not row.get("count"):
            return "–"
        return _pct((row.get("missing") or 0) / row["count"])

    lines: list[tuple[str, list[str]]] = [
        ("count", [_num(r.get("count")) if r else "–" for _, r in sides]),
        ("missing", [missing_pct(r) for _, r in sides]),
    ]
    if kind == "categorical":
        lines += [
            ("distinct", [_num(r.get("distinct_count")) if r else "–" for _, r in sides]),
            ("other values", [_num(r.get("other_count")) if r else "–" for _, r in sides]),
        ]
    else:
        unit = " (length)" if kind == "text" else ""
        lines += [
            (f"mean{unit}", [_num(r.get("mean")) if r else "–" for _, r in sides]),
            ("std", [_num(r.get("std")) if r else "–" for _, r in sides]),
            ("min / max", [f"{_num(r.get('min'))} / {_num(r.get('max'))}" if r else "–" for _, r in sides]),
            ("zeros" if kind == "numeric" else "empty", [_num(r.get("zeros")) if r else "–" for _, r in sides]),
        ]
        for i, q in enumerate(QUANTILES):
            lines.append(
                (
                    f"p{round(q * 100)}",
                    [
                        _num(r["quantiles"][i]) if r and r.get("quantiles") and len(r["quantiles"]) > i else "–"
                        for _, r in sides
                    ],
                )
            )
    head = "".join(f"<th>{_e(s)}</th>" for s, _ in sides)
    body = "".join(
        f"<tr><th>{_e(k)}</th>" + "".join(f'<td class="num">{_e(v)}</td>' for v in vals) + "</tr>" for k, vals in lines
    )
    return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"


def _anomalies_table(anomalies: Sequence[Mapping[str, Any]]) -> str:
    if not anomalies:
        return '<p class="empty">No anomaly.</p>'
    rows = "".join(
        f'<tr><td><span class="badge {_severity_class(a.get("severity"))}">{_e(a.get("severity"))}</span></td>'
        f"<td>{_e(a.get('table'))}</td><td>{_e(a.get('kind'))}</td><td>{_e(a.get('feature'))}</td>"
        f'<td class="detail">{_e(mask_text(str(a.get("detail") or "")))}</td></tr>'
        for a in _by_severity(anomalies)
    )
    return (
        "<table><thead><tr><th>severity</th><th>table</th><th>kind</th><th>feature</th><th>detail</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _drift_table(drift_rows: Sequence[Mapping[str, Any]], anchors: Mapping[tuple[str, str], str]) -> str:
    if not drift_rows:
        return '<p class="empty">No drift comparison.</p>'
    out = []
    for r in _by_severity(drift_rows):
        anchor = anchors.get((str(r.get("table")), str(r.get("feature"))))
        feature = _e(r.get("feature"))
        if anchor:
            feature = f'<a href="#{anchor}">{feature}</a>'
        movers = r.get("top_movers") or []
        mover_html = "<br>".join(_e(mask_text(_mover_text(m))) for m in movers if isinstance(m, Mapping))
        out.append(
            f"<tr><td>{_e(r.get('table'))}</td><td>{feature}</td><td>{_e(r.get('metric'))}</td>"
            f'<td class="num">{_e(_num(r.get("value")))}</td><td class="num">{_e(_num(r.get("warn")))}</td>'
            f'<td class="num">{_e(_num(r.get("error")))}</td>'
            f'<td><span class="badge {_severity_class(r.get("severity"))}">{_e(r.get("severity"))}</span></td>'
            f'<td class="movers">{mover_html}</td></tr>'
        )
    return (
        "<table><thead><tr><th>table</th><th>feature</th><th>metric</th><th>value</th><th>warn</th>"
        "<th>error</th><th>severity</th><th>top movers</th></tr></thead><tbody>" + "".join(out) + "</tbody></table>"
    )


# ---------------------------------------------------------------------------------------------------
# the page


def _key(row: Mapping[str, Any]) -> tuple[str, str]:
    return str(row.get("table_name")), str(row.get("feature"))


def render_report(
    title: str,
    partition: str,
    stats_current: list[dict],
    stats_reference: list[dict] | None,
    drift_rows: list[dict],
    anomalies: list[dict],
    moved: list[dict] | None = None,
) -> str:
    """A self-contained HTML page: a header (partition, ERROR and WARN counts over drift rows and
    anomalies), what moved (``moved``, from :func:`~data_platform.validation.moved.moved_features`: per
    feature with a WARN or ERROR drift, since when, its reference and current distributions overlaid on
    shared bins or values, and its drift score day by day), the anomalies, the drift metrics (worst
    first; features link to their card), then per table one card per feature with an inline SVG chart
    (numeric and text: current and reference equal-width histograms as shares on a common x axis;
    categorical: grouped bars of the most frequent values) and the summary statistics of both sides.
    With several days of statistics for a feature, the card shows the last day's."""
    current = {}
    for row in stats_current:
        current[_key(row)] = row  # a later day replaces an earlier one
    reference = {}
    for row in stats_reference or []:
        reference[_key(row)] = row
    keys = list(current) + [k for k in reference if k not in current]
    anchors = {k: f"feature-{i}" for i, k in enumerate(keys)}

    drift_counts, anomaly_counts = _severity_counts(drift_rows), _severity_counts(anomalies)
    totals = {s: drift_counts[s] + anomaly_counts[s] for s in ("ERROR", "WARN")}
    badges = "".join(f'<span class="badge sev-{s}">{totals[s]} {s}</span>' for s in ("ERROR", "WARN"))
    if not totals["ERROR"] and not totals["WARN"]:
        badges += '<span class="badge sev-OK">all clear</span>'
    breakdown = (
        f"drift: {drift_counts['ERROR']} ERROR, {drift_counts['WARN']} WARN of {len(drift_rows)} metrics; "
        f"anomalies: {anomaly_counts['ERROR']} ERROR, {anomaly_counts['WARN']} WARN of {len(anomalies)}"
    )
    reference_note = "" if stats_reference is not None else " No reference statistics: current values only."

    cards_by_table: dict[str, list[str]] = {}
    for k in keys:
        cur, ref = current.get(k), reference.get(k)
        row = cur or ref
        kind = str(row.get("kind"))
        chart = _bars_svg(k[1], cur, ref) if kind == "categorical" else _histogram_svg(k[1], kind, cur, ref)
        day = row.get("partition_date")
        cards_by_table.setdefault(k[0], []).append(
            f'<div class="card" id="{anchors[k]}"><h4>{_e(k[1])} <span class="kind">{_e(kind)}'
            f"{' · ' + _e(day) if day is not None else ''}</span></h4>{chart}"
            f"{_summary_table(kind, cur, ref if stats_reference is not None else None)}</div>"
        )
    features_html = (
        "".join(
            f'<h3>{_e(table)}</h3><div class="cards">{"".join(cards)}</div>' for table, cards in cards_by_table.items()
        )
        or '<p class="empty">No feature statistics.</p>'
    )

    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>{_e(title)} · {_e(partition)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>Partition <strong>{_e(partition)}</strong></p>"
        f"<p>{badges}</p><p>{_e(breakdown)}.{_e(reference_note)}</p></header>"
        f'<section id="moved"><h2>What moved</h2>{_moved_html(moved or [])}</section>'
        f'<section id="anomalies"><h2>Anomalies</h2>{_anomalies_table(anomalies)}</section>'
        f'<section id="drift"><h2>Drift</h2>{_drift_table(drift_rows, anchors)}</section>'
        f'<section id="features"><h2>Features</h2>{features_html}</section>'
        "</body></html>\n"
    )


def write_report(html_text: str, reports_dir: Path, name: str) -> Path:
    """Write the page to ``reports_dir/<name>.html`` (``.html`` added unless ``name`` ends with it)
    through a temporary file in the same folder and a rename: a reader sees the old page or the new
    one, never a part. ``name`` must be a plain file name (letters, digits, ``.``, ``_``, ``-``).
    Returns the path."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"not a safe report name: {name!r}")
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / (name if name.endswith(".html") else f"{name}.html")
    fd, tmp = tempfile.mkstemp(dir=reports_dir, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html_text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def summary_markdown(drift_rows: list[dict], anomalies: list[dict], limit: int = 10) -> str:
    """A few lines for the Dagster metadata: the ERROR / WARN counts, then the worst findings (up to
    ``limit``, errors first) as a table."""
    drift_counts, anomaly_counts = _severity_counts(drift_rows), _severity_counts(anomalies)
    errors = drift_counts["ERROR"] + anomaly_counts["ERROR"]
    warnings = drift_counts["WARN"] + anomaly_counts["WARN"]
    head = (
        f"**{errors} ERROR, {warnings} WARN** (drift: {drift_counts['ERROR']} ERROR, {drift_counts['WARN']} "
        f"WARN of {len(drift_rows)} metrics; anomalies: {anomaly_counts['ERROR']} ERROR, "
        f"{anomaly_counts['WARN']} WARN of {len(anomalies)})"
    )
    findings = [
        {
            "severity": a.get("severity"),
            "what": f"{a.get('kind')} anomaly",
            "table": a.get("table"),
            "feature": a.get("feature") or "",
            "value": a.get("detail"),
        }
        for a in anomalies
        if a.get("severity") in ("ERROR", "WARN")
    ] + [
        {
            "severity": r.get("severity"),
            "what": f"drift {r.get('metric')}",
            "table": r.get("table"),
            "feature": r.get("feature"),
            "value": f"{_num(r.get('value'))} (warn {_num(r.get('warn'))}, error {_num(r.get('error'))})",
        }
        for r in drift_rows
        if r.get("severity") in ("ERROR", "WARN")
    ]
    if not findings:
        return head + "\n\nAll clear."
    findings = _by_severity(findings)
    more = f"\n\n_and {len(findings) - limit} more in the report_" if len(findings) > limit else ""
    return f"{head}\n\n{markdown_table(findings[:limit])}{more}"


__all__ = ["render_report", "summary_markdown", "write_report"]
