"""Versioned exports: Parquet per split, a dataset card, and the diff between two versions.

``data/exports/<dataset>/<version>/`` holds ``train.parquet``, ``dev.parquet``, ``test.parquet``
(written by DuckDB ``COPY``, out of core; readable by pandas, polars and DuckDB), ``card.md``,
``card.json`` and ``README.md`` (the card with the Hugging Face ``datasets`` header, :mod:`.hub_card`:
``load_dataset("parquet", data_dir=<version folder>)`` loads it). The version id is a content hash: the
md5 of every exported row of every split (in example order) and of the column list, so the same data
gives the same version and any change to a row, a label or a split gives a new one. Re-exporting
unchanged data writes nothing.

Each row carries the example id, the group key (person pseudonym), the features, the label columns,
the example's day and its provenance (landing file and line), so any exported row leads back to the
raw line it came from.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from data_platform.resources import rows, run_sql
from data_platform.splits.hub_card import BALANCED_FILE, hub_readme
from data_platform.splits.split import SPLITS, DatasetSpec


def export_columns(spec: DatasetSpec) -> list[str]:
    """The exported columns, in order (never a leaky one)."""
    cols = ["example_id", "group_key", *spec.features, *spec.label_columns, "example_date", *spec.provenance]
    leaked = set(cols) & set(spec.leaky)
    if leaked:
        raise ValueError(f"{spec.name}: leaky columns in the export: {sorted(leaked)}")
    return cols


def _select(spec: DatasetSpec) -> str:
    """SQL structure: the exported columns of a split, from the split table joined to the source."""
    from_source = [f"e.{c}" for c in (*spec.features, *spec.label_columns)]
    return ", ".join(
        ["s.example_id", "s.group_key", *from_source, "s.example_date", *(f"e.{c}" for c in spec.provenance)]
    )


def content_version(con: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> tuple[str, dict[str, str]]:
    """(version id, md5 per split) of what an export would contain now."""
    digests = {}
    for split in SPLITS:
        digests[split] = (
            run_sql(con, "splits/split_digest.sql", {"split": split}, **_fragments(spec)).fetchone()[0] or "empty"
        )
    return version_id(export_columns(spec), digests), digests


def version_id(columns: list[str], digests: dict[str, str]) -> str:
    """The version id of an export: a hash of its column list and of the md5 of each split's rows."""
    body = json.dumps({"columns": columns, "splits": digests}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:12]


def _fragments(spec: DatasetSpec) -> dict[str, str]:
    cols = export_columns(spec)
    return {
        "select": _select(spec),
        "split_table": f"splits.{spec.name}",
        "source": spec.source,
        "id_column": spec.id_column,
        "row_text": row_text(cols),
    }


def row_text(columns: list[str]) -> str:
    """SQL structure: one row's columns as one text (NULL distinct from any value), for content hashes."""
    return "concat_ws(chr(31), " + ", ".join(f"coalesce({c}::VARCHAR, chr(0))" for c in columns) + ")"


@dataclass(frozen=True)
class Export:
    """A written (or found) export version."""

    dataset: str
    version: str
    path: Path
    counts: dict[str, int]
    written: bool  # False when that version already existed


def write_export(con: duckdb.DuckDBPyConnection, spec: DatasetSpec, exports_root: Path) -> Export:
    """Write the current splits as a new version (unless it exists); the card is written by the caller."""
    version, _ = content_version(con, spec)
    target = Path(exports_root) / spec.name / version
    counts = {r["split"]: r["examples"] for r in rows(con, "splits/count_by_split.sql", table=f"splits.{spec.name}")}
    if (target / "card.json").exists():
        return Export(spec.name, version, target, counts, written=False)

    def write(staging: Path) -> None:
        for split in SPLITS:
            path = staging / f"{split}.parquet"
            run_sql(con, "splits/copy_split.sql", {"split": split}, path=sql_path(path), **_fragments(spec))

    publish_version(target, write)
    return Export(spec.name, version, target, counts, written=True)


def publish_version(target: Path, write: Callable[[Path], None]) -> None:
    """Make ``target`` (a version folder) appear whole: ``write`` fills a hidden staging folder beside
    it, which is then renamed into place. A folder left by an earlier attempt that died before its card
    is redone, and staging folders of killed attempts are removed (exports run inside the "duckdb" pool,
    one writer at a time, so no other export is staging now)."""
    if target.exists():
        shutil.rmtree(target)
    for stale in _ensure(target.parent).glob(".*-*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(staging)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def sql_path(path: Path) -> str:
    """A path as a SQL string literal body (COPY takes no parameter for its target)."""
    return str(path).replace("'", "''")


def write_card(export: Export, card: dict, markdown: Callable[[dict], str] | None = None) -> None:
    """card.json, card.md (``markdown(card)``, by default :func:`card_markdown`) and README.md (the same card
    with the Hugging Face ``datasets`` header and the one-liners that load it: :mod:`.hub_card`) beside
    the Parquet files (the JSON last: its presence marks a complete version)."""
    text = (markdown or card_markdown)(card)
    (export.path / "card.md").write_text(text, encoding="utf-8")
    readme = hub_readme(export.path, f"{export.dataset} {export.version}", text)
    (export.path / "README.md").write_text(readme, encoding="utf-8")
    tmp = export.path / "card.json.tmp"
    tmp.write_text(json.dumps(card, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, export.path / "card.json")


def card_markdown(card: dict) -> str:
    """The dataset card as markdown (``card["sections"]``, title -> markdown, are what later stages add
    to a published version's card: the training stage's baseline model)."""
    lines = [
        *superseded_lines(card),
        f"# Dataset card: {card['dataset']} {card['version']}",
        "",
        card.get("description", ""),
        "",
        *reissue_lines(card),
        "## Splits",
        "",
        "| split | examples | label distribution |",
        "|---|---|---|",
    ]
    for split in SPLITS:
        dist = ", ".join(f"{k}: {v:.3f}" for k, v in card["label_share"].get(split, {}).items())
        lines.append(f"| {split} | {card['counts'].get(split, 0):,} | {dist} |")
    lines += ["", f"Assignment: {card['assignment']}", "", "## Sources", ""]
    lines += [f"- {k}: {v}" for k, v in card["sources"].items()]
    lines += ["", "## Versions of the code and rules", ""]
    lines += [f"- {k}: {v}" for k, v in card["code_versions"].items()]
    if card.get("label_sources"):
        lines += ["", "## Label sources", ""] + [f"- {k}: {v}" for k, v in card["label_sources"].items()]
    if card.get("balanced_train"):
        b = card["balanced_train"]
        lines += [
            "",
            f"## Train-only balanced variant ({BALANCED_FILE})",
            "",
            f"- real clicked rows in train: {b.get('real_minority_rows')}, synthetic (SMOTE) rows: "
            f"{b.get('synthetic_rows')} ({b.get('synthetic_per_real')} per real row, capped at "
            f"{b.get('max_synthetic_per_real')}; none below {b.get('min_real_minority')} real rows)",
        ]
        if b.get("note") and b["note"] != "-":
            lines.append(f"- note: {b['note']}")
    if n := card.get("near_duplicates"):
        summary = f"{n['pairs_between_persons']} pairs of near-duplicate texts between persons ({n['definition']})"
        lines += ["", "## Near-duplicate texts", "", f"- {summary}, {n['pairs_across_splits']} across splits"]
        lines.append("- each cluster of persons they join is in one split")
    lines += ["", "## Known issues", ""] + ([f"- {i}" for i in card["known_issues"]] or ["- none recorded"])
    if card.get("diff"):
        d = card["diff"]
        lines += [
            "",
            f"## Changes since {d['previous']}",
            "",
            f"- added: {d['added']}, removed: {d['removed']}, relabeled: {d['relabeled']}, "
            f"moved between splits: {d['moved']}",
            *[f"- {r}" for r in d["reasons"]],
        ]
    for title, body in card.get("sections", {}).items():  # added by later stages (the training baseline)
        lines += ["", f"## {title}", "", body.rstrip("\n")]
    return "\n".join([*lines, "", *card_footer(card)])


def superseded_lines(card: dict) -> list[str]:
    """The card's first line once a republication replaced the version (an invalidation; none otherwise)."""
    s = card.get("superseded_by")
    if not s:
        return []
    return [f"> **Superseded** by {s['version']} after invalidation {s['invalidation_id']}: {s['reason']}", ""]


def reissue_lines(card: dict) -> list[str]:
    """The card's note that the version was re-issued after an erasure request (none otherwise)."""
    r = card.get("reissued")
    if not r:
        return []
    return [
        f"Re-issued after erasure request {r['request_id']}: this version replaces version {r['replaces']} "
        f"(whose files are deleted) without the {r['examples_removed']} examples of the erased person.",
        "",
    ]


def card_footer(card: dict) -> list[str]:
    """The last lines of a card: its columns and its content hash."""
    return [
        "## Columns",
        "",
        ", ".join(f"`{c}`" for c in card["columns"]),
        "",
        f"Content hash (the version id): `{card['version']}`",
        "",
    ]


def _split_files(version_dir: Path) -> str:
    """SQL list of a version's three split files (not the train-only balanced variant)."""
    return "[" + ", ".join(f"'{sql_path(Path(version_dir) / f'{s}.parquet')}'" for s in SPLITS) + "]"


def diff_versions(con: duckdb.DuckDBPyConnection, old: Path, new: Path) -> dict:
    """Examples added, removed, relabeled and moved between two export versions, and why."""
    files = {"old_files": _split_files(old), "new_files": _split_files(new)}
    d = rows(con, "splits/diff_versions.sql", **files)[0]
    reasons = []
    if d["added_new_days"]:
        reasons.append(f"{d['added_new_days']} added from days after {d['old_last_day']} (new partitions)")
    if d["added"] - d["added_new_days"]:
        reasons.append(
            f"{d['added'] - d['added_new_days']} added within the old days (late data, matured "
            "labels, new labels from people)"
        )
    if d["removed"]:
        reasons.append(f"{d['removed']} removed (erasure, invalidation, or a rule now filtering them)")
    if d["relabeled"]:
        reasons.append(f"{d['relabeled']} relabeled (late clicks, new human consensus or gold)")
    return {
        "previous": Path(old).name,
        "added": d["added"],
        "removed": d["removed"],
        "relabeled": d["relabeled"],
        "moved": d["moved"],
        "reasons": reasons,
    }
