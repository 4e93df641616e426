"""Column lineage derived from the SQL with sqlglot: a hand-made chain, the real labeling and cleaning SQL,
and its Dagster, Markdown and OpenLineage forms."""

from __future__ import annotations

import dagster as dg
import pytest

from data_platform.base.lineage import (
    OPENLINEAGE_SCHEMA_URL,
    LineageError,
    column_lineage,
    lineage_markdown,
    lineage_of_sql_files,
    neutralise_params,
    openlineage_facet,
    to_dagster,
)
from data_platform.catalog import STEPS
from data_platform.labeling.direct import CTR_STEPS

EVENTS = "clean.events"

# A temp table with a CTE and aggregates, then a join with a CASE and a window function over it,
# then an insert into the target.
HAND_MADE_CHAIN = [
    """
    CREATE OR REPLACE TEMP TABLE user_spend AS
    WITH purchases AS (
        SELECT person_key, price_eur AS amount, ts
        FROM clean.events
        WHERE event_type = 'purchase' AND event_date >= $start_day
    )
    SELECT person_key, sum(amount) AS spend, max(ts) AS last_ts, count(*) AS purchases
    FROM purchases
    GROUP BY person_key
    """,
    """
    CREATE OR REPLACE TEMP TABLE ranked AS
    SELECT u.*, p.segment,
           CASE WHEN u.spend >= p.vip_threshold THEN 'vip' WHEN u.purchases > 1 THEN 'repeat'
                ELSE 'one_off' END AS tier,
           rank() OVER (PARTITION BY p.segment ORDER BY u.spend DESC) AS spend_rank
    FROM user_spend u
    JOIN reference.people p ON p.person_key = u.person_key
    """,
    """
    INSERT INTO marts.customers
    SELECT person_key, segment, tier, spend_rank, spend / purchases AS avg_basket, last_ts, purchases,
           $run_id AS run_id, now() AS built_at
    FROM ranked
    WHERE tier <> 'one_off'
    ORDER BY spend_rank
    """,
]

CTR_CHAIN = [(step.name, dict(step.fragments)) for step in CTR_STEPS]  # staging, the slices' temp tables, inserts


@pytest.fixture(scope="module")
def ctr_lineage():
    return lineage_of_sql_files(CTR_CHAIN, "labels.ctr_examples")


# ---- the hand-made chain


def test_hand_made_chain_exact_lineage():
    lineage = column_lineage(HAND_MADE_CHAIN, "marts.customers")
    assert list(lineage) == [
        "person_key",
        "segment",
        "tier",
        "spend_rank",
        "avg_basket",
        "last_ts",
        "purchases",
        "run_id",
        "built_at",
    ]
    assert lineage["person_key"] == [(EVENTS, "person_key")]  # through u.* and the CTE
    assert lineage["segment"] == [("reference.people", "segment")]
    # CASE: every column of its conditions and results (count(*) adds nothing)
    assert lineage["tier"] == [(EVENTS, "price_eur"), ("reference.people", "vip_threshold")]
    # window: its PARTITION BY and ORDER BY columns
    assert lineage["spend_rank"] == [(EVENTS, "price_eur"), ("reference.people", "segment")]
    # aggregate through the CTE alias; GROUP BY person_key and the WHERE columns do not count
    assert lineage["avg_basket"] == [(EVENTS, "price_eur")]
    assert lineage["last_ts"] == [(EVENTS, "ts")]
    assert lineage["purchases"] == []
    assert lineage["run_id"] == [] and lineage["built_at"] == []
    tables = {table for deps in lineage.values() for table, _ in deps}
    assert tables == {EVENTS, "reference.people"}  # the temp tables are resolved away


def test_select_list_alias_and_subquery_and_exists():
    lineage = column_lineage(
        [
            """CREATE TABLE t AS
           SELECT a.x + 1 AS y, y * 2 AS z,
                  (SELECT max(b.v) FROM b WHERE b.k = a.k) AS top_v,
                  EXISTS (SELECT * FROM c WHERE c.k = a.k) AS has_c,
                  a.k IN (SELECT w FROM d) AS in_d
           FROM a"""
        ],
        "t",
    )
    assert lineage == {
        "y": [("a", "x")],
        "z": [("a", "x")],
        "top_v": [("b", "v")],
        "has_c": [],
        "in_d": [("a", "k"), ("d", "w")],
    }


def test_star_over_unknown_base_table_passes_through_and_expands_with_schema():
    chain = [
        "CREATE TEMP TABLE staged AS SELECT *, price * 100 AS cents FROM raw.events",
        "CREATE TABLE out.t AS SELECT s.*, s.price AS p FROM staged s",
    ]
    assert column_lineage(chain, "out.t") == {
        "cents": [("raw.events", "price")],
        "p": [("raw.events", "price")],
        "*": [("raw.events", "*")],
    }
    lineage = column_lineage(chain, "out.t", schema={"raw.events": ["event_id", "price"]})
    assert lineage == {
        "event_id": [("raw.events", "event_id")],
        "price": [("raw.events", "price")],
        "cents": [("raw.events", "price")],
        "p": [("raw.events", "price")],
    }


def test_params_are_replaced_outside_strings_and_comments():
    sql = "SELECT '$kept', $day - INTERVAL 1 DAY, $w::INTEGER -- $comment\nFROM t"
    assert neutralise_params(sql) == "SELECT '$kept', '$day' - INTERVAL 1 DAY, '$w'::INTEGER -- $comment\nFROM t"


def test_unresolvable_references_raise():
    with pytest.raises(LineageError, match="none of the sources"):
        column_lineage(["CREATE TABLE t AS SELECT a FROM (SELECT 1 AS b) s"], "t")
    with pytest.raises(LineageError, match="ambiguous"):
        column_lineage(["CREATE TABLE t AS SELECT a FROM (SELECT 1 AS a) s1, (SELECT 2 AS a) s2"], "t")
    with pytest.raises(LineageError, match="do not create"):
        column_lineage(["CREATE TABLE t AS SELECT 1 AS a"], "u")


# ---- the real SQL


def test_labels_reviews():
    lineage = lineage_of_sql_files([("labeling/reviews.sql", {})], "labels.reviews")
    assert lineage["review_id"] == [(EVENTS, "event_id")]
    assert lineage["category"] == [(EVENTS, "category")]  # mode(category) of the item_category CTE
    assert lineage["text"] == [(EVENTS, "text")]
    assert lineage["text_length"] == [(EVENTS, "text")]
    assert lineage["item_id"] == [(EVENTS, "item_id")]  # the USING column


def test_ctr_examples_through_the_temp_tables(ctr_lineage):
    # label = f.delay_s in the window, delay_s = epoch(click ts - impression ts): both are clean.events.ts;
    # which click matches which impression (impression_id, the join) is row selection, not a dependency.
    assert ctr_lineage["label"] == [(EVENTS, "ts")]
    assert ctr_lineage["click_delay_s"] == [(EVENTS, "ts")]
    assert ctr_lineage["click_event_id"] == [(EVENTS, "event_id"), (EVENTS, "ts")]
    # per-day counts by person (item) and day, plus a running sum of FILTER (WHERE event_type = 'click') over
    # the person's (item's) events by ts within the day: the named windows are inlined; the person's
    # features never read item_id, nor the item's person_key.
    assert ctr_lineage["user_clicks_7d"] == [
        (EVENTS, "event_date"),
        (EVENTS, "event_type"),
        (EVENTS, "person_key"),
        (EVENTS, "ts"),
    ]
    assert ctr_lineage["item_clicks_7d"] == [
        (EVENTS, "event_date"),
        (EVENTS, "event_type"),
        (EVENTS, "item_id"),
        (EVENTS, "ts"),
    ]
    # OVER (PARTITION BY run_day, impression_id): the clicks of the impression staged for its day
    assert ctr_lineage["clicks_on_impression"] == [(EVENTS, "event_date"), (EVENTS, "impression_id")]
    assert ctr_lineage["impression_event_id"] == [(EVENTS, "event_id")]
    assert ctr_lineage["position"] == [(EVENTS, "position")]  # i.position through the SELECT * CTE
    assert ctr_lineage["label_status"] == [(EVENTS, "ts")]
    for computed in ("attribution_window_s", "labeled_at", "label_run_id"):  # $window_s, now(), $run_id
        assert ctr_lineage[computed] == []
    assert "*" not in ctr_lineage
    assert {table for deps in ctr_lineage.values() for table, _ in deps} == {EVENTS}


def test_ctr_examples_insert_by_position_into_the_declared_table(ctr_lineage):
    declared = lineage_of_sql_files([("labeling/create_tables.sql", {}), *CTR_CHAIN], "labels.ctr_examples")
    assert declared == ctr_lineage  # the staged columns are in the table's order


def test_clean_events_from_raw_events():
    # create_tables declares clean.events (positional INSERT) and reference.fx_rates; the identity
    # statements build the map as of the day (temp tables), then staging, the day's rates (an ASOF join
    # on reference.fx_rates), cents detection and the insert
    files = [(s.name, dict(s.fragments)) for s in STEPS["clean.events"]]
    lineage = lineage_of_sql_files(files, EVENTS)
    raw = "raw.events"
    assert lineage["event_id"] == [(raw, "event_id")]  # through SELECT * of the temp table and the view
    # the cents rule (LATERAL subquery: app_version, price) and the declared fx rates (a base table)
    assert lineage["price_eur"] == [(raw, "app_version"), (raw, "price"), ("reference.fx_rates", "rate_to_eur")]
    assert lineage["person_key"] == [(raw, "anon_id"), (raw, "user_id")]  # the identity map as of the day
    assert lineage["text"] == [(raw, "text")]
    assert lineage["ip_prefix"] == [(raw, "ip")]
    for stamped in ("ruleset_version", "fx_version", "cleaned_at", "clean_run_id"):  # unaliased $params
        assert lineage[stamped] == []


# ---- Dagster, Markdown, OpenLineage


def test_to_dagster(ctr_lineage):
    lineage = to_dagster(ctr_lineage)
    assert isinstance(lineage, dg.TableColumnLineage)
    events = dg.AssetKey(["clean", "events"])
    assert lineage.deps_by_column["impression_event_id"] == [
        dg.TableColumnDep(asset_key=events, column_name="event_id"),
    ]
    assert lineage.deps_by_column["labeled_at"] == []
    keys = {dep.asset_key for deps in lineage.deps_by_column.values() for dep in deps}
    assert keys == {events}  # no ctr_clicks / ctr_attribution
    value = dg.MetadataValue.column_lineage(lineage)  # usable as dagster/column_lineage metadata
    assert value.lineage is lineage


def test_lineage_markdown():
    text = lineage_markdown("t", {"a": [("clean.events", "ts"), ("raw.x", "y")], "b": []})
    assert "| column | from |" in text
    assert "| `a` | `clean.events.ts`, `raw.x.y` |" in text
    assert "| `b` | — |" in text


def test_openlineage_facet(ctr_lineage):
    facet = openlineage_facet("labels.ctr_examples", ctr_lineage)
    assert facet["_schemaURL"] == OPENLINEAGE_SCHEMA_URL
    assert facet["_schemaURL"].startswith("https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json")
    assert facet["_producer"]
    assert set(facet["fields"]) == set(ctr_lineage)
    assert facet["fields"]["impression_event_id"] == {
        "inputFields": [{"namespace": "duckdb", "name": "clean.events", "field": "event_id"}],
    }
    assert facet["fields"]["labeled_at"] == {"inputFields": []}
