"""The Hugging Face ``datasets`` layout of a published version: its ``README.md``.

A version folder holds ``train.parquet``, ``dev.parquet`` and ``test.parquet``. Those names are what
``datasets.load_dataset("parquet", data_dir=<folder>)`` infers the splits from (``dev`` is its
``validation`` split), so the files need no renaming; the train-only balanced variant of the click data is
``balanced.parquet``, a name that matches no split keyword (``train_balanced.parquet`` was taken for more
train rows, with other columns, and failed the load).

``README.md`` is the dataset card with the YAML header the ``datasets`` library and the Hub read: the
configs and their data files (split ``validation`` is ``dev.parquet``), and per config the features with
their types and the rows of each split, both read from the Parquet files' own footers (so they are what a
reader gets). ``load_dataset(<folder>)`` uses it, and checks the rows of each split against it; an empty
split is left out of it (the library refuses a split without rows, which is also why the card's one-liner
is ``load_dataset(<folder>)``: the file-name inference would list the empty file). Below the
header: the card's markdown (the same as ``card.md``) and the one-liners that load the version in polars,
pandas, ``datasets`` (``.with_format("torch")`` for PyTorch) and DuckDB.

Only the product's own dependencies are used (pyarrow for the footers, pyyaml for the header): the
``datasets`` library itself is a development dependency, for the test that loads a version with it.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

BALANCED_FILE = "balanced.parquet"
LEGACY_BALANCED_FILE = "train_balanced.parquet"  # its name in versions published before the layout
# the platform's split -> the split name the datasets library and the Hub use
HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}


def hub_dtype(column: str, kind: pa.DataType) -> str:
    """The ``datasets`` dtype name of an Arrow type (``Value(dtype)``); a clear error for a type the card
    cannot describe as a plain value."""
    if pa.types.is_floating(kind):
        return {16: "float16", 32: "float32", 64: "float64"}[kind.bit_width]
    if pa.types.is_date32(kind):
        return "date32"
    if pa.types.is_large_string(kind):
        return "large_string"
    if pa.types.is_string(kind):
        return "string"
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_integer(kind) or pa.types.is_timestamp(kind) or pa.types.is_binary(kind):
        return str(kind)  # int64, uint8, timestamp[us, tz=UTC], binary: the same names in datasets
    raise ValueError(f"column {column}: Arrow type {kind} has no plain datasets dtype for the dataset card")


def _features(path: Path) -> list[dict]:
    return [{"name": f.name, "dtype": hub_dtype(f.name, f.type)} for f in pq.read_schema(path)]


def _split_info(split: str, path: Path) -> dict:
    """A split's rows (from the Parquet footer) and bytes (its Arrow size, the figure the library records,
    summed over record batches so memory stays one batch)."""
    size = sum(batch.nbytes for batch in pq.ParquetFile(path).iter_batches())
    return {"name": split, "num_bytes": size, "num_examples": pq.read_metadata(path).num_rows}


def _config(folder: Path, name: str, files: dict[str, str]) -> tuple[dict, dict] | None:
    """(configs entry, dataset_info entry) of the split files present in ``folder`` and not empty (the
    library refuses a split without rows: "corresponds to no data"), or None."""
    present = {
        split: file
        for split, file in files.items()
        if (folder / file).is_file() and pq.read_metadata(folder / file).num_rows
    }
    if not present:
        return None
    first = folder / next(iter(present.values()))
    config = {"config_name": name, "data_files": [{"split": s, "path": f} for s, f in present.items()]}
    info = {
        "config_name": name,
        "features": _features(first),
        "splits": [_split_info(s, folder / f) for s, f in present.items()],
        "download_size": sum((folder / f).stat().st_size for f in present.values()),
    }
    return config, info


def hub_header(folder: Path, pretty_name: str) -> dict:
    """The YAML header of a version folder's README.md: configs (``default``: the splits; ``balanced``: the
    train-only balanced variant, when present) and dataset_info (features, split sizes)."""
    configs, infos = [], []
    default = {HUB_SPLITS[s]: f"{s}.parquet" for s in HUB_SPLITS}
    for name, files in (("default", default), ("balanced", {"train": BALANCED_FILE})):
        found = _config(Path(folder), name, files)
        if found:
            configs.append(found[0])
            infos.append(found[1])
    if configs and configs[0]["config_name"] == "default":
        configs[0]["default"] = True
    return {"pretty_name": pretty_name, "configs": configs, "dataset_info": infos}


def load_lines(folder: Path) -> str:
    """The card's section on loading the version: one line per tool (the folder's absolute path)."""
    where = str(Path(folder).resolve())
    present = [f"{where}/{s}.parquet" for s in HUB_SPLITS if (Path(folder) / f"{s}.parquet").is_file()]
    split_files = ", ".join(repr(f) for f in present)
    return "\n".join(
        [
            "## Load it",
            "",
            "One line per tool (split `validation` in `datasets` is the platform's `dev`; "
            '`load_dataset("parquet", data_dir=...)` reads the same files, unless a split is empty):',
            "",
            "```python",
            "import polars as pl",
            f'train = pl.read_parquet("{where}/train.parquet")',
            "```",
            "",
            "```python",
            "import pandas as pd",
            f'train = pd.read_parquet("{where}/train.parquet")',
            "```",
            "",
            "```python",
            "from datasets import load_dataset  # PyTorch tensors: .with_format('torch')",
            f'splits = load_dataset("{where}").with_format("torch")',
            "```",
            "",
            "```python",
            "import duckdb",
            f'rows = duckdb.sql("SELECT * FROM read_parquet([{split_files}], filename = true)")',
            "```",
            "",
        ]
    )


def hub_readme(folder: Path, pretty_name: str, card_markdown: str) -> str:
    """README.md of a version folder: the YAML header, the card, the one-liners."""
    header = yaml.safe_dump(hub_header(folder, pretty_name), sort_keys=False, allow_unicode=True)
    return f"---\n{header}---\n\n{card_markdown.rstrip()}\n\n{load_lines(folder)}"
