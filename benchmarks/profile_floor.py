"""The floor's time statement by statement: ``benchmarks/baseline_floor.sql`` run over a landing folder one
statement at a time in this process, each with its wall and CPU seconds, to set beside the pipeline's stages.

    python benchmarks/profile_floor.py LANDING [--memory 1GB] [--threads 2] [--tmp DIR]

LANDING is a landing folder with ``events/<day>/*.jsonl[.gz]`` (``bench_pipeline.py --keep`` leaves one in its
work folder). The script is filled in as ``bench_pipeline.py`` fills it; the database and the Parquet file go to
a temporary folder, deleted afterwards.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import floor_script  # noqa: E402
from measure import cpu_seconds  # noqa: E402


def _code_lines(part: str) -> list[str]:
    return [line.strip() for line in part.splitlines() if line.strip() and not line.lstrip().startswith("--")]


def statements(script: str) -> list[str]:
    """The script's statements (split at a ``;`` ending a line), leaving out the parts that are only comments."""
    return [part for part in script.split(";\n") if _code_lines(part)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("landing", type=Path)
    parser.add_argument("--memory", default="1GB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tmp", default=None, help="folder for the temporary database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.tmp) as work:
        script = floor_script(args.landing, args.memory, args.threads, Path(work) / "floor.parquet")
        started, cpu_started = time.perf_counter(), cpu_seconds()
        con = duckdb.connect(str(Path(work) / "floor.duckdb"))
        print(" wall s   cpu s  statement")
        for statement in statements(script):
            wall, cpu = time.perf_counter(), cpu_seconds()
            con.execute(statement)
            first_line = _code_lines(statement)[0][:80]
            print(f"{time.perf_counter() - wall:7.2f} {cpu_seconds() - cpu:7.2f}  {first_line}", flush=True)
        con.close()
        total_cpu = cpu_seconds() - cpu_started
        print(f"{time.perf_counter() - started:7.2f} {total_cpu:7.2f}  the whole script, close included")


if __name__ == "__main__":
    main()
