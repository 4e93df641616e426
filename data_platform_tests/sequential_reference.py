"""The reference for concurrency tests: ingest days one after another, in one process, no daemon.

``python -m data_platform_tests.sequential_reference FIRST LAST`` materializes the ingestion assets for
every day from FIRST to LAST (inclusive), in order, each in its own in-process run
(``conftest.ingest``), over the warehouse and landing folder the ``DATA_PLATFORM_*`` variables name. It
runs as a subprocess because the daily partitions are fixed at import from ``DATA_PLATFORM_START_DATE``,
which a test may set to another first day than its own process uses.
"""

from __future__ import annotations

import datetime as dt
import sys

from data_platform.resources import LandingZone, Warehouse
from data_platform_tests.conftest import ingest


def main(first: str, last: str) -> None:
    warehouse, landing = Warehouse.from_env(), LandingZone.from_env()
    day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    while day <= end:
        ingest(warehouse, landing, day.isoformat())
        day += dt.timedelta(days=1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
