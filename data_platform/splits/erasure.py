"""Erasure in the published exports: every version that holds the erased subject is re-issued without them.

A published version is immutable and named by its content, so it cannot be edited in place: each registered
version whose files hold a row of the subject (its ``group_key`` is one of their person keys, or its
provenance names a landing line the erasure emptied) is written again as a new version, its files filtered
(the train-only balanced variant also loses the synthetic rows made from the subject's examples), its
version id the content hash of what is left (:func:`~data_platform.splits.export.version_id`, as a fresh
export of the same rows would get). Its card is the old card with the new counts and label shares, the
difference to the old version, and the line "Re-issued after erasure request <id>" (no identifier of the
subject); sections later stages added (the training baseline, measured on the old rows) are not carried over.
The new version takes the old one's place in ``splits.exports`` (same previous version, same publication
time), ``splits.export_reissues`` records old -> new, and the old version's files are deleted.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

from data_platform.privacy.files import ErasedFile, FileErasure, sha256_of
from data_platform.resources import existing_tables, exports_root, rows, run_sql
from data_platform.splits.export import (
    Export,
    diff_versions,
    export_columns,
    publish_version,
    row_text,
    sql_path,
    version_id,
    write_card,
)
from data_platform.splits.hub_card import BALANCED_FILE, LEGACY_BALANCED_FILE
from data_platform.splits.split import DATASETS, SPLITS

EXPORTS = "exports"  # the data folder named in privacy.erased_files locations
BALANCED_NAMES = (BALANCED_FILE, LEGACY_BALANCED_FILE)  # the train-only balanced variant, as named now and before
# an export row x of the erased subject: one of their person keys, or built from a line the erasure emptied
SUBJECT_ROW = (
    "(coalesce(x.group_key IN (SELECT group_key FROM erasure_person_keys), FALSE) OR EXISTS ("
    "SELECT 1 FROM erasure_lines AS l WHERE l.source_file = x.source_file AND l.source_line = x.source_line))"
)
ERASED_EXAMPLE = "(x.example_id IN (SELECT example_id FROM erasure_examples))"
# a row of the balanced variant: a real example of theirs, or a synthetic one made from one of theirs
ERASED_BALANCED = (
    "(x.example_id IN (SELECT example_id FROM erasure_examples) "
    "OR coalesce(x.parent_id IN (SELECT example_id FROM erasure_examples), FALSE) "
    "OR coalesce(x.neighbour_id IN (SELECT example_id FROM erasure_examples), FALSE))"
)


def _files_list(paths: list[Path]) -> str:
    return "[" + ", ".join(f"'{sql_path(p)}'" for p in paths) + "]"


def reissue_exports(job: FileErasure) -> Iterator[ErasedFile]:
    """Re-issue every export version holding the subject (registered or found under the exports folder);
    delete the old versions' files."""
    con = job.con
    versions = _versions(con)
    if not versions:
        return
    run_sql(con, "splits/create_registry.sql")
    lines = job.shared.get("landing_lines", [])
    run_sql(con, "splits/stage_erasure_keys.sql", {"person_keys": sorted(job.person_keys)})
    run_sql(
        con,
        "splits/stage_erasure_lines.sql",
        {"source_files": [f for f, _ in lines], "source_lines": [n for _, n in lines]},
    )
    for v in versions:
        old = Path(v["path"])
        spec = DATASETS.get(v["dataset"])
        if spec is None or not all((old / f"{s}.parquet").is_file() for s in SPLITS):
            continue
        split_files = [old / f"{s}.parquet" for s in SPLITS]
        run_sql(con, "splits/erased_examples.sql", files=_files_list(split_files), subject=SUBJECT_ROW)
        removed = con.execute("SELECT count(*) FROM erasure_examples").fetchone()[0]
        if removed:
            yield from _reissue(job, spec, v["version"], old, removed)


def _versions(con) -> list[dict]:
    """Every registered version, and every complete version folder under the exports folder (one published by
    another warehouse, or whose registry row is gone), each once."""
    registered = rows(con, "splits/live_exports.sql") if "splits.exports" in existing_tables(con) else []
    found = {str(Path(v["path"]).resolve()): v for v in registered}
    for name in DATASETS:
        for card in sorted((exports_root() / name).glob("*/card.json")):
            found.setdefault(
                str(card.parent.resolve()), {"dataset": name, "version": card.parent.name, "path": str(card.parent)}
            )
    return list(found.values())


def _reissue(job: FileErasure, spec, old_version: str, old: Path, removed: int) -> list[ErasedFile]:
    con = job.con
    columns = export_columns(spec)

    def write(staging: Path) -> None:
        for name in [*(f"{s}.parquet" for s in SPLITS), BALANCED_FILE, LEGACY_BALANCED_FILE]:
            source = old / name
            if not source.is_file():
                continue
            balanced = name in BALANCED_NAMES
            run_sql(
                con,
                "splits/copy_without_examples.sql",
                source=sql_path(source),
                path=sql_path(staging / (BALANCED_FILE if balanced else name)),  # an older version: the new name
                erased=ERASED_BALANCED if balanced else ERASED_EXAMPLE,
                order_by="is_synthetic, example_id" if balanced else "example_id",
            )

    # the new version's id: the content hash of what is left (computed from a staging copy)
    probe = old.parent / f".reissue-{old_version}"
    publish_version(probe, write)
    digests = {
        s: run_sql(
            con, "splits/parquet_digest.sql", path=sql_path(probe / f"{s}.parquet"), row_text=row_text(columns)
        ).fetchone()[0]
        or "empty"
        for s in SPLITS
    }
    new_version = version_id(columns, digests)
    target = old.parent / new_version
    if (target / "card.json").is_file():  # that content is published already (a later version, say)
        shutil.rmtree(probe)
    else:
        if target.exists():
            shutil.rmtree(target)
        probe.rename(target)
        _write_card(job, spec, old_version, old, target, new_version, removed)
    examples = _count(con, target)
    run_sql(
        con,
        "splits/register_reissue.sql",
        {
            "dataset": spec.name,
            "new_version": new_version,
            "path": str(target),
            "examples": sum(examples.values()),
            "old_version": old_version,
        },
    )
    run_sql(con, "splits/drop_export_version.sql", {"dataset": spec.name, "old_version": old_version})
    run_sql(
        con,
        "splits/insert_reissue.sql",
        {
            "dataset": spec.name,
            "old_version": old_version,
            "new_version": new_version,
            "request_id": job.request_id,
            "removed": removed,
            "at": job.now,
        },
    )
    return _record_and_delete(con, old, target, removed)


def _count(con, version_dir: Path) -> dict[str, int]:
    run_sql(con, "splits/split_files_view.sql", files=_files_list([version_dir / f"{s}.parquet" for s in SPLITS]))
    return {r["split"]: r["examples"] for r in rows(con, "splits/count_by_split.sql", table="reissued_rows")}


def _write_card(job: FileErasure, spec, old_version: str, old: Path, target: Path, version: str, removed: int) -> None:
    con = job.con
    card = json.loads((old / "card.json").read_text(encoding="utf-8")) if (old / "card.json").is_file() else {}
    counts = _count(con, target)
    shares: dict[str, dict[str, float]] = {}
    for r in rows(con, "splits/label_share.sql", table="reissued_rows"):
        shares.setdefault(r["split"], {})[str(r["label"])] = r["share"]
    card.pop("sections", None)  # measured on the old rows (the training baseline): not this version's
    card.update(
        {
            "dataset": spec.name,
            "version": version,
            "created": job.now.astimezone(dt.UTC).isoformat(),
            "counts": counts,
            "label_share": shares,
            "columns": export_columns(spec),
            "diff": diff_versions(con, old, target),
            "reissued": {"request_id": job.request_id, "replaces": old_version, "examples_removed": removed},
        }
    )
    card.setdefault("sources", {})
    card.setdefault("code_versions", {})
    card.setdefault("assignment", "-")
    card.setdefault("known_issues", [])
    write_card(Export(spec.name, version, target, counts, written=False), card)


def _location(path: Path) -> str:
    """``exports/<dataset>/<version>/<file>``."""
    return "/".join([EXPORTS, *path.parts[-3:]])


def _record_and_delete(con, old: Path, new: Path, removed: int) -> list[ErasedFile]:
    """One record per file of the new version (re-issued, with the hash of the file it replaces) and per
    file of the old version (deleted), then the old version's folder goes."""
    done = []
    old_hashes = {p.name: sha256_of(p) for p in sorted(old.iterdir()) if p.is_file()}
    for p in sorted(new.iterdir()):
        if p.is_file():
            done.append(ErasedFile(_location(p), "reissued", old_hashes.get(p.name), sha256_of(p), 0))
    for name, sha in old_hashes.items():
        n = _removed_in(con, old / name) if name in (*(f"{s}.parquet" for s in SPLITS), *BALANCED_NAMES) else 0
        done.append(ErasedFile(_location(old / name), "deleted", sha, None, n))
    shutil.rmtree(old)
    return done


def _removed_in(con, path: Path) -> int:
    erased = ERASED_BALANCED if path.name in BALANCED_NAMES else ERASED_EXAMPLE
    return run_sql(con, "splits/count_erased_rows.sql", path=sql_path(path), erased=erased).fetchone()[0]
