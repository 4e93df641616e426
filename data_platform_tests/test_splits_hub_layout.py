"""A published version loads with one line in the tools ML engineers use: the Hugging Face ``datasets``
library (a development dependency, never imported by the product), polars, pandas and DuckDB, each run
from the card's own one-liners, over a version published by the real assets."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from data_platform.splits.hub_card import HUB_SPLITS, hub_dtype
from data_platform.splits.split import CTR
from data_platform_tests.conftest import query
from data_platform_tests.test_splits import published  # noqa: F401 (the published click version, a fixture)

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def version(published):  # noqa: F811
    """The click dataset published once from three generated days: (version folder, registry row, warehouse)."""
    [(name, path, examples)] = query(published["warehouse"], "SELECT version, path, examples FROM splits.exports")
    return Path(path), {"version": name, "examples": examples}, published["warehouse"]


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """The datasets library offline, its caches under a temp folder."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf" / "datasets")
    return tmp_path / "hf" / "datasets"


def _card(path: Path) -> tuple[dict, str]:
    text = (path / "README.md").read_text(encoding="utf-8")
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_datasets_loads_every_split_with_the_registry_counts_and_features(version, offline):
    path, registry, warehouse = version
    card = json.loads((path / "card.json").read_text())
    expected = {HUB_SPLITS[s]: n for s, n in card["counts"].items()}
    by_split = dict(query(warehouse, f"SELECT split, count(*) FROM splits.{CTR.name} GROUP BY 1"))
    assert card["counts"] == by_split and sum(expected.values()) == registry["examples"] > 0

    inferred = datasets.load_dataset("parquet", data_dir=str(path), cache_dir=str(offline))  # file names only
    from_card = datasets.load_dataset(str(path), cache_dir=str(offline))  # the README's configs
    for loaded in (inferred, from_card):
        assert {s: d.num_rows for s, d in loaded.items()} == expected
        for d in loaded.values():
            assert d.column_names == card["columns"]
            # the card's dtypes are the library's own reading of the Parquet schema
            assert d.features == datasets.Features.from_arrow_schema(pq.read_schema(path / "train.parquet"))
    dev_ids = {r[0] for r in query(warehouse, f"SELECT example_id FROM '{path}/dev.parquet'")}
    assert set(from_card["validation"]["example_id"]) == dev_ids
    assert from_card["train"].info.splits["train"].num_examples == card["counts"]["train"]

    balanced = datasets.load_dataset(str(path), "balanced", cache_dir=str(offline))
    [(rows, synthetic)] = query(
        warehouse, "SELECT count(*), count(*) FILTER (is_synthetic) FROM splits.ctr_examples_train_balanced"
    )
    assert list(balanced) == ["train"] and balanced["train"].num_rows == rows
    assert sum(balanced["train"]["is_synthetic"]) == synthetic > 0


def test_the_card_header_describes_each_split_file(version):
    path, registry, _ = version
    header, body = _card(path)
    [default, balanced] = header["configs"]
    assert default["default"] is True and default["data_files"] == [
        {"split": "train", "path": "train.parquet"},
        {"split": "validation", "path": "dev.parquet"},
        {"split": "test", "path": "test.parquet"},
    ]
    assert balanced["data_files"] == [{"split": "train", "path": "balanced.parquet"}]
    info = {i["config_name"]: i for i in header["dataset_info"]}
    assert [(f["name"], f["dtype"]) for f in info["default"]["features"]] == [
        (f.name, hub_dtype(f.name, f.type)) for f in pq.read_schema(path / "dev.parquet")
    ]
    assert {s["name"]: s["num_examples"] for s in info["default"]["splits"]} == {
        HUB_SPLITS[s]: pq.read_metadata(path / f"{s}.parquet").num_rows for s in HUB_SPLITS
    }
    assert header["pretty_name"] == f"{CTR.name} {registry['version']}"
    assert body.lstrip().startswith((path / "card.md").read_text(encoding="utf-8").rstrip())
    assert not (path / "train_balanced.parquet").exists()


def test_the_cards_one_liners_run(version, offline):
    path, _, warehouse = version
    _, body = _card(path)
    blocks = re.findall(r"```python\n(.*?)```", body, flags=re.S)
    by_tool = {b.split()[1]: b for b in blocks}  # "import polars ...", "from datasets ..."
    assert set(by_tool) == {"polars", "pandas", "datasets", "duckdb"}
    counts = json.loads((path / "card.json").read_text())["counts"]

    for tool in ("polars", "pandas"):
        scope: dict = {}
        exec(by_tool[tool], scope)
        assert len(scope["train"]) == counts["train"], tool

    scope = {}
    exec(by_tool["duckdb"], scope)
    per_file = (
        scope["rows"].aggregate("regexp_extract(filename, '(\\w+)[.]parquet$', 1) AS s, count(*) AS n").fetchall()
    )
    assert dict(per_file) == counts

    # PyTorch is not installed here: the line's load runs, and its torch format fails for that reason only
    line = by_tool["datasets"].replace("load_dataset(", f'load_dataset(cache_dir="{offline}", path=')
    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="PyTorch needs to be installed"):
            exec(line, {})
        line = line.replace('.with_format("torch")', "")
    scope = {}
    exec(line, scope)
    assert {s: d.num_rows for s, d in scope["splits"].items()} == {HUB_SPLITS[s]: n for s, n in counts.items()}


def test_an_empty_split_is_left_out_of_the_card_and_the_rest_loads(tmp_path, offline):
    """A version whose dev split has no rows (a small dataset): the library refuses a split without rows, so
    the card lists train and test only, and the card's load line gives those two."""
    import duckdb

    from data_platform.splits.hub_card import hub_readme

    for split, n in (("train", 3), ("dev", 0), ("test", 2)):
        duckdb.sql(
            f"COPY (SELECT range AS example_id FROM range({n})) TO '{tmp_path / split}.parquet' (FORMAT parquet)"
        )
    (tmp_path / "README.md").write_text(hub_readme(tmp_path, "tiny v1", "# Dataset card: tiny v1\n"))
    header, body = _card(tmp_path)
    assert [f["split"] for f in header["configs"][0]["data_files"]] == ["train", "test"]
    line = re.search(r"splits = load_dataset\((.*?)\)", body)[1]
    loaded = datasets.load_dataset(ast.literal_eval(line), cache_dir=str(offline))
    assert {s: d.num_rows for s, d in loaded.items()} == {"train": 3, "test": 2}
