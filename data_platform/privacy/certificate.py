"""The certificate of an erasure: one JSON file and one readable text per request, under the certificates
folder (``DATA_PLATFORM_CERTIFICATES``, default ``data/privacy/certificates``): ``<request-id>.json`` and
``<request-id>.txt``.

What it holds: what was searched for (the kinds of identifier and how many of each, from
``privacy.erased_identifiers``), where (each place and its size, the distinct tokens checked there), the
rows the erasure removed per table (``privacy.erasure_audit``) beside what the search finds there now, every
file the erasure rewrote, deleted or re-issued with its content hashes (``privacy.erased_files``: landing
files, export versions, labeling files, reports), and every verification's result (a later
``data-platform privacy verify`` adds one; none is overwritten).

It holds no identifier of the subject, raw or pseudonymised: a keyed pseudonym is still personal data
(GDPR recital 26: it can be linked back with the key), and a certificate is made to be shown (to the
subject, an auditor, a regulator). The key is named by its id only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from data_platform.privacy.verify import SearchRoots, Verification, verify_erasure
from data_platform.resources import rows, run_sql

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def certificate_paths(folder: Path, request_id: str) -> tuple[Path, Path]:
    """``<folder>/<request-id>.json`` and ``.txt`` (characters unsafe in a file name replaced by ``_``)."""
    stem = _SAFE_NAME.sub("_", request_id)
    return folder / f"{stem}.json", folder / f"{stem}.txt"


def _verification_record(v: Verification) -> dict:
    return {
        "verified_at": v.verified_at,
        "passed": v.passed,
        "key_id": v.key_id,
        "seconds": v.seconds,
        "totals": v.totals(),
        "places_with_hits": [{"kind": p.kind, "location": p.location, "found": p.found} for p in v.hits],
    }


def build_certificate(con: duckdb.DuckDBPyConnection, verification: Verification, previous: dict | None) -> dict:
    """The certificate of ``verification.request_id`` as a JSON-ready dict; ``previous``: the certificate
    written before for this request (its verifications are kept)."""
    v = verification
    found = {p.location: p.found for p in v.places if p.kind == "table"}
    audit = rows(con, "privacy/certificate_audit.sql", {"request_id": v.request_id})
    tables = [
        {
            "table": a["table_name"],
            "rows_removed": a["rows_removed"],
            "identifiers_found_now": sum(found.get(a["table_name"], {}).values()),
        }
        for a in audit
    ]
    files = [
        {**f, "processed_at": str(f["processed_at"])}
        for f in rows(con, "privacy/certificate_files.sql", {"request_id": v.request_id})
    ]
    history = [*(previous or {}).get("verifications", []), _verification_record(v)]
    return {
        "certificate": "erasure",
        "request_id": v.request_id,
        # an erasure before any data removed no row and audited no table: its tombstones say when it ran
        "erased_at": str(
            min((a["processed_at"] for a in audit), default=None)
            or run_sql(con, "privacy/request_erased_at.sql", {"request_id": v.request_id}).fetchone()[0]
            or ""
        ),
        "runs": sorted({a["run_ids"] for a in audit}),
        "key_id": v.key_id,
        "searched_for": v.identifiers,
        "no_identifier_here": "this certificate names no identifier of the subject, raw or pseudonymised "
        "(a keyed pseudonym is personal data too); identifiers are counted per kind",
        "tables": tables,
        "files_rewritten": files,
        "places": [
            {
                "kind": p.kind,
                "location": p.location,
                "size": p.size,
                "unit": p.unit,
                "tokens": p.tokens,
                "found": p.found,
            }
            for p in v.places
        ],
        "verification": _verification_record(v),
        "verifications": history,
        "passed": v.passed,
    }


def certificate_text(cert: dict) -> str:
    """The readable version of a certificate."""
    v = cert["verification"]
    lines = [
        f"Erasure certificate, request {cert['request_id']}",
        "",
        f"Erased at {cert['erased_at']} (run {', '.join(cert['runs']) or '-'}); key {cert['key_id']}.",
        "Searched for: "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(cert["searched_for"].items()))
        + " (no identifier, raw or pseudonymised, is written here).",
        "",
        f"Verification at {v['verified_at']}: {'PASSED, nothing of the subject found' if v['passed'] else 'FAILED'}"
        f" ({v['seconds']} s).",
    ]
    for kind, t in sorted(v["totals"].items()):
        lines.append(
            f"  {kind}: {t['places']} places, {t['size']:,} {'rows' if kind in ('table', 'parquet') else 'bytes'}, "
            f"{t['tokens']:,} distinct tokens checked, {t['with_hits']} with a hit"
        )
    for hit in v["places_with_hits"]:
        found = ", ".join(f"{n} {kind}" for kind, n in sorted(hit["found"].items()))
        lines.append(f"  FOUND in {hit['kind']} {hit['location']}: {found}")
    lines += ["", "Rows removed per table (found now):"]
    lines += [f"  {t['table']}: {t['rows_removed']:,} ({t['identifiers_found_now']})" for t in cert["tables"]]
    lines += ["", f"Files rewritten, deleted or re-issued: {len(cert['files_rewritten'])}"]
    lines += [
        f"  {f['action']} {f['location']}: sha256 {f['sha256_before'] or '-'} -> {f['sha256_after'] or '-'}"
        f" ({f['lines_removed'] or 0} lines removed)"
        for f in cert["files_rewritten"]
    ]
    if len(cert["verifications"]) > 1:
        lines += ["", "Earlier verifications:"]
        lines += [f"  {h['verified_at']}: {'passed' if h['passed'] else 'FAILED'}" for h in cert["verifications"][:-1]]
    lines += ["", f"Every place searched: {len(cert['places'])} (listed in the JSON certificate)."]
    return "\n".join(lines) + "\n"


def write_certificate(con: duckdb.DuckDBPyConnection, verification: Verification, folder: Path) -> tuple[Path, Path]:
    """Write (or extend, keeping earlier verifications) the certificate of ``verification.request_id``; both
    files are written to a temporary name and renamed into place."""
    json_path, text_path = certificate_paths(folder, verification.request_id)
    folder.mkdir(parents=True, exist_ok=True)
    previous = json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else None
    cert = build_certificate(con, verification, previous)
    for path, content in ((json_path, json.dumps(cert, indent=2, sort_keys=True)), (text_path, certificate_text(cert))):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(content + ("" if content.endswith("\n") else "\n"), encoding="utf-8")
        tmp.replace(path)
    return json_path, text_path


def verify_and_certify(
    con: duckdb.DuckDBPyConnection, request_ids: list[str], roots: SearchRoots, folder: Path, run_id: str = "cli"
) -> list[tuple[Verification, Path]]:
    """Verify each erasure request, record the outcome (``privacy.erasure_verifications``) and write its
    certificate; (verification, JSON certificate) per request."""
    run_sql(con, "privacy/create_verification_table.sql")
    done = []
    for request_id in request_ids:
        v = verify_erasure(con, request_id, roots)
        run_sql(
            con,
            "privacy/insert_verification.sql",
            {
                "request_id": v.request_id,
                "verified_at": v.verified_at,
                "key_id": v.key_id,
                "passed": v.passed,
                "places": len(v.places),
                "places_with_hits": len(v.hits),
                "seconds": v.seconds,
                "run_id": run_id,
            },
        )
        done.append((v, write_certificate(con, v, folder)[0]))
    return done


def to_verify(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """The erasures run ``run_id`` carried out, and every earlier one whose latest verification failed."""
    run_sql(con, "privacy/create_verification_table.sql")
    return [r["request_id"] for r in rows(con, "privacy/erased_requests_of_run.sql", {"run_id": run_id})]
