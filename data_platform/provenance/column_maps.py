"""Which SQL builds which table: the statement chains column lineage is derived from.

Each entry lists the ``sql/`` files (and the structure fragments they are filled with) that build a
table, in order; :func:`lineage_metadata` derives the column lineage from them with
:mod:`data_platform.provenance.lineage` once per process and returns the asset metadata: the
``dagster/column_lineage`` Dagster understands, a readable markdown table (the open-source UI does not
draw column lineage) and the OpenLineage column-lineage facet.
"""

from __future__ import annotations

from functools import cache

import dagster as dg

from data_platform.cleaning.clean import IDENTITY_AS_OF, sql_fragments
from data_platform.provenance.lineage import lineage_markdown, lineage_of_sql_files, openlineage_facet, to_dagster
from data_platform.splits.split import DATASETS


def _chains() -> dict[str, list[tuple[str, dict]]]:
    identity = [("cleaning/login_links.sql", {}), ("cleaning/identity_devices.sql", {"links": "login_links"}),
                ("cleaning/identity_nodes.sql", {"links": "login_links"}),
                ("cleaning/identity_labels_init.sql", {"labels": "identity_labels_a"}),
                ("cleaning/identity_map.sql", {"labels": "identity_labels_a",
                                                "target": f"TEMP TABLE {IDENTITY_AS_OF.split('.')[-1]}"})]
    chains = {
        "clean.events": [("cleaning/create_tables.sql", {}), *identity, ("cleaning/stage_day_events.sql", {}),
                         ("cleaning/day_events_view.sql", {}), ("cleaning/day_rates.sql", {}),
                         ("cleaning/detect_cents_versions.sql", {}),
                         ("cleaning/item_price_medians.sql", {}), ("cleaning/insert_clean_events.sql", sql_fragments())],
        "labels.ctr_examples": [(f"labeling/{n}.sql", {}) for n in (
            "ctr_stage_clicks", "ctr_stage_attribution", "ctr_stage_examples", "insert_ctr_examples")],
        "labels.reviews": [("labeling/reviews.sql", {})],
        "labels.review_examples": [("labeling/review_examples.sql", {})],
    }
    for spec in DATASETS.values():
        chains[f"splits.{spec.name}"] = [("splits/assign.sql", {
            "target": f"splits.{spec.name}", "source": spec.source, "id_column": spec.id_column,
            "group_column": spec.group_column, "event_id_column": spec.event_id_column, "label_column": spec.label_column, "date_column": spec.date_column,
            "where": spec.where})]
    return chains


CHAINS = _chains()


@cache
def lineage_metadata(table: str) -> dict:
    """Column-lineage metadata of ``table`` (a key of :data:`CHAINS`), derived from its SQL."""
    lineage = lineage_of_sql_files(CHAINS[table], table)
    return {
        "dagster/column_lineage": to_dagster(lineage),
        "column_lineage": dg.MetadataValue.md(lineage_markdown(table, lineage)),
        "openlineage_column_lineage": dg.MetadataValue.json(openlineage_facet(table, lineage)),
    }
