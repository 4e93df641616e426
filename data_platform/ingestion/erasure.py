"""Erasure in the landing files: the subject's lines taken out of the files they were landed from.

The warehouse knows which lines those are: every line of a current file is in ``raw.landed_lines`` (accepted
or quarantined) until an erasure removes it, so the lines of a current file missing from the parse store are
the erased ones (``sql/ingestion/erased_line_gaps.sql``). This does not depend on the erasure's temporary
tables, so a rerun after a crash finds the same lines. A missing line is emptied only if it names an erased
subject (one of their ids, or an id whose keyed pseudonym is theirs, :meth:`FileErasure.names_subject`):
lines already emptied by an earlier erasure, or gone for any other reason, are left alone.

Line numbers stay stable: an erased line becomes an empty line (:func:`~data_platform.privacy.files.rewrite_lines`),
so every other line keeps its number and its bytes, and ``raw.files``, ``raw.landed_lines``, the provenance
columns downstream (``source_file``, ``source_line``) and export rows still point at the right lines; renumbering
would have to rewrite every table and every published export that names a line. The file keeps its mtime; its
new hash and size are recorded in ``raw.files`` (and the hash in every table naming its lines) in the same
transaction, so neither landing nor the landing sensor takes the rewritten file as new content. Were the
warehouse ever rebuilt from the landing folder, an emptied line would be quarantined as ``empty_line``
(counted, naming no one), and the other lines would land under their old numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from data_platform.ingestion.landing import file_content
from data_platform.privacy.files import ErasedFile, FileErasure, Rewrite, rewrite_lines
from data_platform.resources import existing_tables, rows, run_sql, transaction

LANDING = "landing"  # the data folder named in privacy.erased_files locations


def erase_landing_lines(job: FileErasure) -> Iterator[ErasedFile]:
    """Empty the erased lines of every current landing file that held some, recording each file's new hash."""
    if "raw.files" not in existing_tables(job.con):
        return
    known = job.pseudonyms(every_request=True) | job.person_keys
    tables = [r[0] for r in run_sql(job.con, "ingestion/provenance_tables.sql").fetchall()]
    errors = []
    for f in rows(job.con, "ingestion/erased_line_gaps.sql"):
        try:
            done = _erase_in_file(job, f, known, tables)
        except OSError as error:  # unreadable or unwritable: the other files are still rewritten
            errors.append(f"{f['source_file']}: {error}")
            continue
        if done is not None:
            yield done
    if errors:
        raise OSError("landing files not rewritten: " + "; ".join(errors))


def _erase_in_file(job: FileErasure, f: dict, known: frozenset[str], tables: list[str]) -> ErasedFile | None:
    """Empty the lines of one landed file version that the parse store lost and that name an erased subject."""
    path = job.landing_root / "events" / f["source_file"]
    if not path.is_file():
        return None
    gaps, dropped = set(f["lines"]), []

    def drop(number: int, line: bytes) -> bool:
        if number in gaps and job.names_subject(line.decode("utf-8", errors="replace"), known):
            dropped.append(number)
            return True
        return False

    def record(rewrite: Rewrite) -> None:
        new = rewrite.sha256_after
        run_sql(
            job.con,
            "ingestion/rehash_file.sql",
            {"file_id": f["file_id"], "new_sha256": new, "size": rewrite.size_after},
        )
        for table in tables:
            params = {"source_file": f["source_file"], "old_sha256": f["file_sha256"], "new_sha256": new}
            run_sql(job.con, "ingestion/rehash_lines.sql", params, table=table)

    with transaction(job.con):
        # a file whose bytes are not the landed version's (new bytes not landed yet) is left to landing
        rewrite = rewrite_lines(
            path,
            drop,
            compressed=f["compressed"],
            expect_sha256=f["file_sha256"],
            before_replace=record,
            chunks=lambda p: file_content(p, f["compressed"]),
        )
    if rewrite is None:
        return None
    job.shared.setdefault("landing_lines", []).extend((f["source_file"], n) for n in dropped)
    return ErasedFile(
        location=f"{LANDING}/{Path('events', f['source_file']).as_posix()}",
        action="rewritten",
        sha256_before=rewrite.sha256_before,
        sha256_after=rewrite.sha256_after,
        lines_removed=rewrite.lines_removed,
    )
