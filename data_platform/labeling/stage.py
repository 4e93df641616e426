"""What labeling declares for the rest of the platform: its tables' contracts, where a person's rows are
(erasure), its lines of the status summary, and the SQL steps its tables are built with."""

from __future__ import annotations

import duckdb

from data_platform.base.enums import SENTIMENTS
from data_platform.base.stage import SqlStep, Stage
from data_platform.base.tables import TableContract, at_least, between, isin, row_check
from data_platform.labeling.direct import CTR_STEPS
from data_platform.labeling.erasure import erase_labeling_files
from data_platform.metadata import ddl_columns

CTR_EXAMPLES_CONTRACT = TableContract(
    "labels.ctr_examples",
    ddl_columns("labeling/create_tables.sql", "labels.ctr_examples"),
    "event_date",
    frozenset(
        {
            "impression_id",
            "event_date",
            "impression_ts",
            "person_key",
            "item_id",
            "position",
            "position_bucket",
            "hour_of_day",
            "day_of_week",
            "user_impressions_7d",
            "user_clicks_7d",
            "item_impressions_7d",
            "item_clicks_7d",
            "predicted_ctr",
            "model_version",
            "label",
            "label_status",
            "clicks_on_impression",
            "attribution_window_s",
            "impression_event_id",
            "source_file",
            "source_line",
            "label_run_id",
        }
    ),
    unique=("impression_id",),
    column_checks={
        "label": [isin((0, 1))],
        "label_status": [isin(("mature", "provisional"))],
        "position": [at_least(1)],
        "position_bucket": [isin(("1", "2-3", "4-10", "11+"))],
        "predicted_ctr": [between(0, 1)],
        "hour_of_day": [between(0, 23)],
        "day_of_week": [between(1, 7)],
        **{
            c: [at_least(0)]
            for c in (
                "user_impressions_7d",
                "user_clicks_7d",
                "item_impressions_7d",
                "item_clicks_7d",
                "clicks_on_impression",
                "click_delay_s",
            )
        },
    },
    row_checks=(
        row_check("label 1 has its click", "label <> 1 OR click_event_id IS NOT NULL"),
        row_check(
            "click delay within the window",
            "click_delay_s IS NULL OR click_delay_s <= attribution_window_s",
        ),
        row_check("event_date is the UTC day of impression_ts", "event_date = CAST(impression_ts AS DATE)"),
    ),
    description="click-through examples: one per impression, label 0/1 with its click, maturity",
)
UNATTRIBUTED_CLICKS_CONTRACT = TableContract(
    "labels.unattributed_clicks",
    ddl_columns("labeling/create_tables.sql", "labels.unattributed_clicks"),
    "owner_date",
    frozenset({"click_event_id", "owner_date", "click_ts", "reason", "source_file", "source_line", "label_run_id"}),
    unique=("click_event_id",),
    column_checks={"reason": [isin(("repeat_click", "after_window", "before_impression", "unknown_impression"))]},
    row_checks=(
        row_check(
            "a known impression for every reason but unknown_impression",
            "reason = 'unknown_impression' OR impression_id IS NOT NULL",
        ),
    ),
    description="clicks that labelled nothing, each with its reason",
    written_by="labels/ctr_examples",
)

# labels.review_examples is created by a query (CREATE TABLE AS); its columns, as that query makes them.
_REVIEW_EXAMPLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("review_id", "VARCHAR", "the review event's event_id"),
    ("event_date", "DATE", ""),
    ("item_id", "VARCHAR", ""),
    ("category", "VARCHAR", ""),
    ("text", "VARCHAR", "redacted"),
    ("rating", "BIGINT", ""),
    ("label", "VARCHAR", "negative | neutral | positive"),
    ("label_source", "VARCHAR", "gold > human_consensus > weak"),
    ("label_confidence", "DOUBLE", ""),
    ("rater_count", "BIGINT", ""),
    ("human_label", "VARCHAR", ""),
    ("human_confidence", "DOUBLE", ""),
    ("weak_label", "VARCHAR", ""),
    ("weak_confidence", "DOUBLE", ""),
    ("suspected_label_error", "BOOLEAN", ""),
    ("person_key", "VARCHAR", ""),
    ("source_file", "VARCHAR", ""),
    ("source_line", "BIGINT", ""),
    ("label_model", "VARCHAR", ""),
    ("labeled_at", "TIMESTAMP WITH TIME ZONE", ""),
    ("label_run_id", "VARCHAR", ""),
)
REVIEW_EXAMPLES_CONTRACT = TableContract(
    "labels.review_examples",
    _REVIEW_EXAMPLE_COLUMNS,
    None,
    frozenset(
        {
            "review_id",
            "label",
            "label_source",
            "label_confidence",
            "rater_count",
            "source_file",
            "source_line",
            "suspected_label_error",
        }
    ),
    unique=("review_id",),
    column_checks={
        "label": [isin(SENTIMENTS)],
        "human_label": [isin(SENTIMENTS)],
        "weak_label": [isin(SENTIMENTS)],
        "label_source": [isin(("gold", "human_consensus", "weak"))],
        "label_confidence": [between(0, 1)],
        "rating": [between(1, 5)],
        "rater_count": [at_least(0)],
    },
    row_checks=(
        row_check(
            "human consensus rows name raters",
            "label_source <> 'human_consensus' OR rater_count > 0",
        ),
    ),
    description="the labeled review dataset: one label per review with its source and confidence",
)

REVIEWS_STEP = SqlStep("labeling/reviews.sql")
"""The statement that builds labels.reviews (``review_assets.reviews`` runs it)."""
REVIEW_EXAMPLES_STEP = SqlStep("labeling/review_examples.sql")
"""The statement that builds labels.review_examples (``review_assets.review_examples`` runs it)."""

# labelling tables are keyed by the review's event id
_REVIEW = "review_id IN (SELECT event_id FROM erase_events)"


def summary(con: duckdb.DuckDBPyConnection, tables: set[tuple[str, str]]) -> list[str]:
    """Click examples and clicks kept aside; review labels by source, accuracy on gold, task batches."""
    lines = []
    if ("labels", "ctr_examples") in tables:
        n, pos, provisional = con.execute(
            "SELECT count(*), sum(label), count(*) FILTER (WHERE label_status = 'provisional') FROM labels.ctr_examples"
        ).fetchone()
        aside = con.execute(
            "SELECT reason, count(*) FROM labels.unattributed_clicks GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        lines.append(
            f"labels.ctr_examples {n:>7,} impressions, {pos or 0:,} clicked (CTR {(pos or 0) / max(n, 1):.4f}), "
            f"{provisional:,} provisional"
        )
        lines.append("  clicks kept aside: " + (", ".join(f"{r} {c}" for r, c in aside) or "none"))
    if ("labels", "review_examples") in tables:
        by_source = con.execute(
            "SELECT label_source, count(*) FROM labels.review_examples GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        total = sum(c for _, c in by_source)
        lines.append(f"labels.review_examples {total:>4,} reviews: " + ", ".join(f"{s} {c}" for s, c in by_source))
        weak_acc, weak_n, human_acc, human_n = con.execute(
            "SELECT avg((w.label = g.label)::INT), count(*) FILTER (WHERE w.label IS NOT NULL), "
            "(SELECT avg((h.label = g2.label)::INT) "
            "FROM labels.human_consensus h JOIN labels.gold g2 USING (review_id)), "
            "(SELECT count(*) FROM labels.human_consensus h JOIN labels.gold g2 USING (review_id)) "
            "FROM labels.gold g LEFT JOIN labels.weak_labels w USING (review_id)"
        ).fetchone()
        lines.append(
            "  accuracy on gold: "
            + ", ".join(
                f"{who} {acc:.3f} ({n} items)" if n else f"{who}: no gold items"
                for who, acc, n in (("label model", weak_acc, weak_n), ("human consensus", human_acc, human_n))
            )
        )
        batches = con.execute(
            "SELECT batch_id, count(*), string_agg(DISTINCT selection, ',' ORDER BY selection) "
            "FROM labels.tasks GROUP BY 1 ORDER BY 1"
        ).fetchall()
        lines.append("  task batches: " + ", ".join(f"{b} ({n} tasks: {s})" for b, n, s in batches))
    return lines


STAGE = Stage(
    name="labeling",
    contracts=(CTR_EXAMPLES_CONTRACT, UNATTRIBUTED_CLICKS_CONTRACT, REVIEW_EXAMPLES_CONTRACT),
    person_columns={
        "labels.ctr_examples": "impression_event_id IN (SELECT event_id FROM erase_events)",
        "labels.unattributed_clicks": "click_event_id IN (SELECT event_id FROM erase_events)",
        "labels.label_matrix": "example_id IN (SELECT event_id FROM erase_events)",
        **{
            f"labels.{table}": _REVIEW
            for table in (
                "reviews",
                "weak_labels",
                "gold",
                "tasks",
                "annotations",
                "human_consensus",
                "review_examples",
                "label_issues",
            )
        },
    },
    summary=summary,
    file_erasers=(erase_labeling_files,),
    # the tables are declared first, then the statements as their runners run them
    steps={
        "labels.ctr_examples": (SqlStep("labeling/create_tables.sql"), *CTR_STEPS),
        "labels.reviews": (REVIEWS_STEP,),
        "labels.review_examples": (REVIEW_EXAMPLES_STEP,),
    },
)
