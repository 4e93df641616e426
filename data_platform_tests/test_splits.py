"""Splits and exports run for real: generated logs -> click labels -> splits -> versioned Parquet; then
one more day lands and every earlier example keeps its split."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

from data_platform.cleaning.assets import CLEANING_ASSETS
from data_platform.generator import generate_logs
from data_platform.ingestion.assets import raw_ingestion
from data_platform.labeling.ctr_assets import ctr_examples
from data_platform.metadata import markdown_table
from data_platform.resources import Warehouse
from data_platform.splits.assets import (
    SPLIT_ASSETS,
    _rounded,
    build_export_asset,
    build_split_asset,
    ctr_train_balanced,
)
from data_platform.splits.export import export_columns
from data_platform.splits.fairness import group_table
from data_platform.splits.split import CTR, DATASETS, split_report
from data_platform_tests.conftest import generated_world

CTR_ASSETS = [SPLIT_ASSETS[0], ctr_train_balanced, build_export_asset(CTR)]


def _daily(warehouse, landing, first: str, last: str):
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    assert dg.materialize(
        [raw_ingestion, *CLEANING_ASSETS, ctr_examples],
        resources={"warehouse": warehouse, "landing": landing},
        tags=tags,
    ).success


def _publish(warehouse, run_config=None):
    return dg.materialize([*CTR_ASSETS], resources={"warehouse": warehouse}, run_config=run_config)


def _split_map(path: Path) -> dict[str, str]:
    con = duckdb.connect()
    return dict(
        con.execute(
            f"SELECT example_id, regexp_extract(filename, '([a-z]+)[.]parquet$', 1) "
            f"FROM read_parquet(['{path}/train.parquet', '{path}/dev.parquet', '{path}/test.parquet'], "
            f"filename = true)"
        ).fetchall()
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("splits")
    mp = pytest.MonkeyPatch()
    mp.setenv("DATA_PLATFORM_EXPORTS", str(root / "exports"))
    landing, warehouse, _ = generated_world(root, days=3, events_per_day=5000, seed=13)
    _daily(warehouse, landing, "2026-11-02", "2026-11-05")
    first = _publish(warehouse)
    assert first.success
    yield {"root": root, "warehouse": warehouse, "landing": landing, "first": first}
    mp.undo()


def meta(result, node):
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[-1].metadata.items()}


def test_an_export_page_lists_and_describes_the_columns_of_its_parquet(published):
    export = meta(published["first"], "exports__ctr_examples")
    schema = export["dagster/column_schema"]
    parquet = pq.read_schema(Path(export["path"]) / "train.parquet")
    assert [c.name for c in schema.columns] == parquet.names and "predicted_ctr" in parquet.names
    assert [c.name for c in schema.columns if not c.description] == []


def test_checks_pass_and_the_export_is_readable_everywhere(published):
    result = published["first"]
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert {name: c.passed for name, c in checks.items() if name != "fairness"} == {
        "split_ratios": True,
        "label_balance": True,
        "no_leakage": True,
        "synthetic_only_in_train": True,
    }
    # fairness is a WARN check: at this small scale a country's share may wander between splits
    assert checks["fairness"].severity == dg.AssetCheckSeverity.WARN
    split_meta = meta(result, "splits__ctr_examples")
    assert "| country | DE |" in split_meta["fairness"] and "| predicted_ctr |" in split_meta["feature_signal"]
    export = meta(result, "exports__ctr_examples")
    path = Path(export["path"])
    assert path.name == export["version"] and path.parent.parent == published["root"] / "exports"
    counts = {}
    for split in ("train", "dev", "test"):
        file = path / f"{split}.parquet"
        by_pandas, by_polars = pd.read_parquet(file), pl.read_parquet(file)
        by_duckdb = duckdb.connect().execute(f"SELECT count(*) FROM '{file}'").fetchone()[0]
        assert len(by_pandas) == by_polars.height == by_duckdb > 0
        assert list(by_pandas.columns) == export_columns(CTR)
        assert not set(by_pandas.columns) & set(CTR.leaky)
        counts[split] = by_duckdb
    card = json.loads((path / "card.json").read_text())
    assert card["version"] == export["version"] and card["counts"] == counts
    assert abs(card["label_share"]["train"]["1"] - card["label_share"]["all"]["1"]) <= CTR.label_tolerance
    assert "# Dataset card: ctr_examples" in (path / "card.md").read_text()
    # persons never cross splits, in the files too
    groups = (
        duckdb.connect()
        .execute(
            f"SELECT count(*) FROM (SELECT group_key FROM read_parquet('{path}/[tdt]*.parquet', filename = true) "
            f"WHERE filename NOT LIKE '%balanced%' GROUP BY 1 HAVING count(DISTINCT filename) > 1)"
        )
        .fetchone()[0]
    )
    assert groups == 0


def test_the_fairness_table_counted_in_duckdb_is_the_one_computed_from_every_row(published):
    """The split asset counts groups per split in DuckDB (no example comes to Python); its table is the
    one :func:`group_table` computes from every example's group, split and label."""
    split_meta = meta(published["first"], "splits__ctr_examples")
    con = duckdb.connect(published["warehouse"].database, read_only=True)
    try:
        expected = []
        for attribute in CTR.group_attributes:
            groups, splits, labels = zip(
                *con.execute(
                    f"SELECT e.{attribute}, s.split, s.label FROM splits.ctr_examples s "
                    "JOIN labels.ctr_examples e ON e.impression_id = s.example_id"
                ).fetchall()
            )
            rows = group_table(np.array(groups, dtype=object), np.array(splits), np.array(labels), positive="1")
            expected += [{"attribute": attribute, **_rounded(r)} for r in rows]
    finally:
        con.close()
    assert {r["attribute"] for r in expected} == set(CTR.group_attributes)
    assert split_meta["fairness"] == markdown_table(expected)


def test_synthetic_rows_stay_in_train(published):
    path = Path(meta(published["first"], "exports__ctr_examples")["path"])
    balanced = pl.read_parquet(path / "balanced.parquet")
    synthetic = balanced.filter(pl.col("is_synthetic"))
    assert synthetic.height > 0 and set(synthetic["label"].unique()) == {1}
    train = set(pl.read_parquet(path / "train.parquet")["example_id"])
    assert set(synthetic["parent_id"]) <= train and set(synthetic["neighbour_id"]) <= train
    for split in ("dev", "test"):
        assert not set(pl.read_parquet(path / f"{split}.parquet")["example_id"]) & set(synthetic["example_id"])
    real = balanced.filter(~pl.col("is_synthetic"))
    assert set(real["example_id"]) == train
    # the card says how many synthetic clicks were made from how many real ones, under the cap
    real_clicks = real.filter(pl.col("label") == 1).height
    card = json.loads((path / "card.json").read_text())["balanced_train"]
    assert (card["real_minority_rows"], card["synthetic_rows"]) == (real_clicks, synthetic.height)
    assert synthetic.height <= card["max_synthetic_per_real"] * real_clicks
    assert "Train-only balanced variant" in (path / "card.md").read_text()


def test_republishing_unchanged_data_writes_no_new_version(published):
    again = _publish(published["warehouse"])
    assert meta(again, "exports__ctr_examples")["new_version"] is False
    assert (
        meta(again, "exports__ctr_examples")["version"] == meta(published["first"], "exports__ctr_examples")["version"]
    )


def test_one_more_day_keeps_every_earlier_example_in_its_split(published):
    before = Path(meta(published["first"], "exports__ctr_examples")["path"])
    generate_logs(published["landing"].root, start=dt.date(2026, 11, 5), days=1, events_per_day=5000, seed=14)
    _daily(published["warehouse"], published["landing"], "2026-11-04", "2026-11-06")
    result = _publish(published["warehouse"])
    after = Path(meta(result, "exports__ctr_examples")["path"])
    assert after != before
    old, new = _split_map(before), _split_map(after)
    kept = set(old) & set(new)
    assert len(kept) > 0.95 * len(old)
    assert all(old[i] == new[i] for i in kept)
    card = json.loads((after / "card.json").read_text())
    assert card["diff"]["previous"] == before.name and card["diff"]["moved"] == 0
    assert card["diff"]["added"] >= len(set(new) - set(old)) > 0
    assert any("new partitions" in r for r in card["diff"]["reasons"])


def test_a_leaky_feature_fails_the_leakage_check(published):
    leaky = dataclasses.replace(CTR, features=(*CTR.features, "click_delay_s"))
    result = dg.materialize(
        [build_split_asset(leaky)], resources={"warehouse": published["warehouse"]}, raise_on_error=False
    )
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}["no_leakage"]
    assert not check.passed and check.metadata["leaky_features"].value == "click_delay_s"
    with pytest.raises(ValueError):
        export_columns(leaky)


def test_balance_allowances_widen_only_with_what_chance_explains():
    from data_platform.splits.split import SplitReport

    def report(concentration):
        return SplitReport(
            examples=10_000,
            by_split={"train": 7000, "dev": 1500, "test": 1500},
            share_by_split={"train": 0.70, "dev": 0.15, "test": 0.15},
            label_share={"all": {"1": 0.10}, "train": {"1": 0.10}, "dev": {"1": 0.16}, "test": {"1": 0.04}},
            groups_in_several_splits=0,
            devices_in_several_splits=0,
            duplicate_examples=0,
            leaky_features=[],
            concentration=concentration,
        )

    # many small persons: a 10-point miss on train is a real problem
    assert [p.split(":")[0] for p in report(0.0001).ratio_problems((0.6, 0.2, 0.2), 0.06)] == ["train"]
    # a few dominant persons: 3 sd of r(1 - r) sum(w^2) = 0.147 on train covers it
    assert report(0.01).ratio_problems((0.6, 0.2, 0.2), 0.06) == []
    # label shares: 1,500 examples give 3 sd = 0.023 around 0.10, so 0.16 and 0.04 both fail
    assert [p.split(":")[0] for p in report(0.0001).label_problems(0.01)] == ["dev 1", "test 1"]


@pytest.mark.parametrize(
    ("rows", "persons", "devices", "duplicates"),
    [
        # a person in two splits (and so their device), one example twice
        (
            [("a", "p1", "d1", "train"), ("b", "p1", "d1", "test"), ("c", "p2", "d2", "dev"), ("c", "p2", "d2", "dev")],
            1,
            1,
            1,
        ),
        # a device whose examples carry two person keys (keyed on different days) and sit in two splits: no
        # person is in two splits, yet the device is, and the blocking check must fail
        ([("a", "a:d1", "d1", "train"), ("b", "u:x", "d1", "test"), ("c", "u:y", "d2", "dev")], 0, 1, 0),
    ],
)
def test_split_report_sees_a_person_or_a_device_in_two_splits(rows, persons, devices, duplicates):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA splits")
    con.execute(
        "CREATE TABLE splits.ctr_examples (example_id VARCHAR, group_key VARCHAR, cluster_key VARCHAR, "
        "device_key VARCHAR, label VARCHAR, split VARCHAR)"
    )
    con.executemany(
        "INSERT INTO splits.ctr_examples VALUES (?, ?, ?, ?, '0', ?)", [(e, g, g, d, s) for e, g, d, s in rows]
    )
    report = split_report(con, DATASETS["ctr_examples"])
    assert (report.groups_in_several_splits, report.devices_in_several_splits, report.duplicate_examples) == (
        persons,
        devices,
        duplicates,
    )


def test_too_few_real_clicks_give_no_synthetic_rows_and_the_card_says_so(published, tmp_path, monkeypatch):
    copy = tmp_path / "warehouse.duckdb"  # a copy and another exports folder: the shared world stays as it is
    shutil.copy(published["warehouse"].database, copy)
    monkeypatch.setenv("DATA_PLATFORM_EXPORTS", str(tmp_path / "exports"))
    with duckdb.connect(str(copy), read_only=True) as con:
        [(real_clicks,)] = con.execute(
            "SELECT count(*) FROM splits.ctr_examples s JOIN labels.ctr_examples e ON e.impression_id = s.example_id "
            "WHERE s.split = 'train' AND e.label = 1"
        ).fetchall()
    result = _publish(
        Warehouse(database=str(copy), memory_limit="1GB", threads=2),
        {"ops": {"splits__ctr_examples_train_balanced": {"config": {"min_real_minority": real_clicks + 1}}}},
    )
    balanced = meta(result, "splits__ctr_examples_train_balanced")
    assert (balanced["synthetic_rows"], balanced["real_minority_rows"]) == (0, real_clicks)
    assert f"too few real rows to synthesize from ({real_clicks} < min_rows={real_clicks + 1})" in balanced["note"]
    card = (Path(meta(result, "exports__ctr_examples")["path"]) / "card.md").read_text()
    assert f"real clicked rows in train: {real_clicks}, synthetic (SMOTE) rows: 0" in card
    assert "too few real rows to synthesize from" in card
