"""Erasure in the HTML data reports: a report is built from many people's rows, so it is not removed; every
identifier of the erased subject in it (an id, an e-mail address, a pseudonym or person key of theirs, as
:meth:`~data_platform.privacy.files.FileErasure.subject_tokens` finds them) is replaced by ``<erased>``."""

from __future__ import annotations

from collections.abc import Iterator

from data_platform.privacy.files import ErasedFile, FileErasure, scrub_text_file
from data_platform.resources import reports_root


def erase_in_reports(job: FileErasure) -> Iterator[ErasedFile]:
    """Mask the subject's identifiers in every file under the reports folder."""
    root = reports_root()
    for path in (
        sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")) if root.is_dir() else []
    ):
        rewrite = scrub_text_file(path, job)
        if rewrite:
            location = f"reports/{path.relative_to(root).as_posix()}"
            yield ErasedFile(location, "rewritten", rewrite.sha256_before, rewrite.sha256_after, rewrite.lines_removed)
