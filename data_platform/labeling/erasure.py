"""Erasure in the labeling files: the subject's reviews taken out of the task batches sent to raters, of the
Label Studio exports that came back, and of the gold answer files.

A task names its review (``data.review_id``, the review's event id): a task of one of the subject's events
(staged by the erasure as ``erase_events``) is removed from each ``<labeling>/tasks/*.tasks.json`` batch and
each ``<landing>/annotations/*.json`` export, which are written again atomically
(:func:`~data_platform.labeling.label_studio.write_json_atomic`); every other task keeps its content. A
rewritten export is a changed annotation file, so the annotation sensor's next round rebuilds the consensus
from what is left. A gold answer file (``<landing>/annotations/gold/*.csv``: review id, label, who) loses the
rows of the subject's reviews (the rows are removed, not emptied: the gold reader rejects an empty row).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from data_platform.labeling.label_studio import write_json_atomic
from data_platform.privacy.files import ErasedFile, FileErasure, rewrite_lines, sha256_of
from data_platform.resources import labeling_root


def erase_labeling_files(job: FileErasure) -> Iterator[ErasedFile]:
    """Remove the subject's tasks from every task batch and annotation export."""
    events = job.event_ids
    if not events:
        return
    root = labeling_root()
    folders = [("labeling", root, sorted((root / "tasks").glob("*.tasks.json")))]
    annotations = job.landing_root / "annotations"
    folders.append(("landing", job.landing_root, sorted(annotations.glob("*.json"))))
    for name, base, paths in folders:
        for path in paths:
            erased = _erase_tasks(path, events)
            if erased:
                yield ErasedFile(f"{name}/{path.relative_to(base).as_posix()}", "rewritten", *erased)
    for path in sorted((annotations / "gold").glob("*.csv")):
        gold = rewrite_lines(path, lambda _, line: _gold_review(line) in events, keep_numbers=False)
        if gold:
            location = f"landing/{path.relative_to(job.landing_root).as_posix()}"
            yield ErasedFile(location, "rewritten", gold.sha256_before, gold.sha256_after, gold.lines_removed)


def _gold_review(line: bytes) -> str | None:
    """The review id of a gold CSV row (its first field), as the gold reader reads it."""
    fields = next(csv.reader([line.decode("utf-8", errors="replace")]), [])
    return fields[0].strip() if fields else None


def _erase_tasks(path: Path, events: set[str]) -> tuple[str, str, int] | None:
    """(sha256 before, after, tasks removed) of a task list without the subject's tasks; None if it had none
    (or is not a task list: the annotation reader rejects such files with a reason)."""
    before = sha256_of(path)
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(tasks, list):
        return None
    kept = [t for t in tasks if not (isinstance(t, dict) and _review_of(t) in events)]
    if len(kept) == len(tasks):
        return None
    write_json_atomic(path, kept)
    return before, sha256_of(path), len(tasks) - len(kept)


def _review_of(task: dict) -> object:
    data = task.get("data")
    return data.get("review_id") if isinstance(data, dict) else None
