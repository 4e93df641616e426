"""What erasure verification's lookup costs on given files: seconds, CPU and DuckDB's peak memory.

    python benchmarks/bench_verify_lookup.py FILE [FILE ...] [--memory 1GB] [--threads 1]

Each FILE is one place, cut into tokens as ``privacy/verify.py`` cuts it (a ``.duckdb`` or ``.wal`` file as a
database file: identifier shapes at every offset too; any other by its bytes), then looked up in one
statement (``privacy/verify_found.sql``) in a new in-memory DuckDB with ``--memory`` as its limit, for a subject
of three made-up identifiers. Prints the seconds of the cut and of the lookup, this process's CPU seconds, its
peak RSS, DuckDB's peak memory (``duckdb_memory()`` polled every 50 ms during the lookup) and the tokens and
findings per place, or the error the lookup ended with (an out-of-memory one, say).
"""

from __future__ import annotations

import argparse
import resource
import sys
import threading
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import cpu_seconds  # noqa: E402

from data_platform.base.pseudonyms import pseudonymise  # noqa: E402
from data_platform.privacy import verify  # noqa: E402

KEY = "bench-verify-lookup-key-of-forty-characters"
SUBJECT = {"user_id": "u1000033", "email": "someone@example.com", "ip": "10.1.2.3"}


def _poll_peak(con: duckdb.DuckDBPyConnection, stop: threading.Event, peak: list[int]) -> None:
    cursor = con.cursor()
    while not stop.is_set():
        used = cursor.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0] or 0
        peak[0] = max(peak[0], used)
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--memory", default="1GB")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    con = duckdb.connect(config={"memory_limit": args.memory, "threads": args.threads})
    con.execute(
        "CREATE TEMP TABLE verify_subject AS SELECT unnest($kinds) AS identifier_kind, "
        "unnest($pseudonyms) AS pseudonym, 'bench' AS key_id",
        {"kinds": list(SUBJECT), "pseudonyms": [pseudonymise(v, KEY) for v in SUBJECT.values()]},
    )
    started, cpu = time.perf_counter(), cpu_seconds()
    search = verify._Search(con, KEY)
    for path in args.files:
        kind = "database file" if path.suffix in (".duckdb", ".wal") else "file"
        verify._search_file(search, path, kind, path.name, direct=kind != "database file")
    cut = time.perf_counter()
    stop, peak = threading.Event(), [0]
    poller = threading.Thread(target=_poll_peak, args=(con, stop, peak))
    poller.start()
    try:
        places = search.run()
        outcome = "; ".join(
            f"{p.location}: {p.tokens:,} tokens, found {p.found}" for p in places if p.kind != "file name"
        )
    except duckdb.Error as e:
        outcome = f"{type(e).__name__}: {str(e).splitlines()[0]}"
    finally:
        stop.set()
        poller.join()
    print(
        f"cut {cut - started:.2f} s, lookup {time.perf_counter() - cut:.2f} s, CPU {cpu_seconds() - cpu:.2f} s, "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, "
        f"DuckDB peak {peak[0] / 2**20:.0f} MiB (limit {args.memory}): {outcome}"
    )


if __name__ == "__main__":
    main()
