"""What splits declares for the rest of the platform: where a person's rows are (erasure), its lines of
the status summary, and the SQL step each split table is built with."""

from __future__ import annotations

import duckdb

from data_platform.base.stage import Stage
from data_platform.resources import rows
from data_platform.splits.erasure import reissue_exports
from data_platform.splits.split import DATASETS, assign_step

# the subject's impressions, for the split tables keyed by impression id (raw.events is erased after
# the split tables: the catalog erases later stages first)
_IMPRESSIONS = "(SELECT impression_id FROM raw.events WHERE event_id IN (SELECT event_id FROM erase_events))"


def summary(con: duckdb.DuckDBPyConnection, tables: set[tuple[str, str]]) -> list[str]:
    """The latest export version of each dataset and its split sizes, and its latest synthetic twin."""
    if ("splits", "exports") not in tables:
        return []
    lines = []
    for dataset, version, path, examples in con.execute(
        "SELECT dataset, version, path, examples FROM splits.exports "
        "QUALIFY row_number() OVER (PARTITION BY dataset ORDER BY created_at DESC) = 1 ORDER BY 1"
    ).fetchall():
        shares = ", ".join(
            f"{r['split']} {r['examples']:,}"
            for r in rows(con, "splits/count_by_split.sql", table=f"splits.{DATASETS[dataset].name}")
        )
        lines.append(f"exports/{dataset}: version {version}, {examples:,} examples ({shares}) -> {path}")
    if ("splits", "twins") in tables:
        for dataset, version, source, examples, persons, path in con.execute(
            "SELECT dataset, version, source_version, examples, persons, path FROM splits.twins "
            "QUALIFY row_number() OVER (PARTITION BY dataset ORDER BY created_at DESC) = 1 ORDER BY 1"
        ).fetchall():
            lines.append(
                f"synthetic/{dataset}: version {version}, {examples:,} SYNTHETIC rows of {persons:,} synthetic "
                f"persons, learnt from version {source} -> {path}"
            )
    return lines


STAGE = Stage(
    name="splits",
    person_columns={
        "splits.ctr_examples": f"example_id IN {_IMPRESSIONS}",
        "splits.ctr_examples_train_balanced": f"(example_id IN {_IMPRESSIONS} OR parent_id IN {_IMPRESSIONS} "
        f"OR neighbour_id IN {_IMPRESSIONS})",
        "splits.review_examples": "example_id IN (SELECT event_id FROM erase_events)",
        "splits.review_examples_near_duplicates": "(example_a IN (SELECT event_id FROM erase_events) "
        "OR example_b IN (SELECT event_id FROM erase_events))",
    },
    summary=summary,
    file_erasers=(reissue_exports,),
    steps={f"splits.{spec.name}": (assign_step(spec),) for spec in DATASETS.values()},
)
