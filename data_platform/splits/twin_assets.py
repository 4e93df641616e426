"""synthetic/<dataset>: a privacy-safe synthetic twin of a published version's train split, versioned
Parquet with a card that reports its fidelity, utility and privacy, and a blocking privacy check.

The twin is built from the latest published version (``splits.exports``): its ``train.parquet`` is cut by
person into *members* (the twin learns from them) and a *holdout* (persons it never sees, the yardstick
of the privacy figures); its ``test.parquet`` measures utility. The twin is published under
``<exports>/synthetic/<dataset>/<version>/`` (``train.parquet``, ``card.md``, ``card.json``) and in
``splits.twins`` only when every privacy figure is within its limit; otherwise nothing is written and
the blocking ``privacy`` check fails.
"""

import datetime as dt
import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa

from data_platform.metadata import markdown_table, parquet_schema_of
from data_platform.resources import Warehouse, exports_root, run_sql
from data_platform.splits.assets import BALANCE_CATEGORICAL, BALANCE_NUMERIC
from data_platform.splits.export import (
    Export,
    card_footer,
    export_columns,
    publish_version,
    row_text,
    sql_path,
    write_card,
)
from data_platform.splits.split import CTR, DatasetSpec
from data_platform.splits.twin import TwinColumns, leak_drill, sample_twin
from data_platform.splits.twin_report import PrivacyLimits, fidelity, privacy, utility

HOLDOUT_SALT = "twin-holdout-v1"
CODE_VERSION = "twin-1"
# What the twin models of each dataset. Reviews are not a copula target: their text is the data, and a
# copula has nothing to say about text (see docs/synthetic.md).
TWINS: dict[str, TwinColumns] = {
    CTR.name: TwinColumns(
        numeric=(*BALANCE_NUMERIC, "example_date"),
        categorical=(*BALANCE_CATEGORICAL, "label"),
        person=("country", "device"),
        derived={"position_bucket": "position"},
        label="label",
    )
}
_TYPE = re.compile(r"^[A-Z][A-Z0-9_]*(\(\d+(, ?\d+)?\))?$")  # a plain DuckDB type name, safe as SQL structure


class TwinConfig(dg.Config):
    """How the twin is made and where its privacy check fails it (docs/synthetic.md)."""

    seed: int = 0
    holdout_share: float = 0.2  # persons of train kept out of the fit, the yardstick of the privacy figures
    persons_scale: float = 1.0  # synthetic persons per real member person
    max_eval_rows: int = 5000  # rows per side in the distance figures (a seeded sample)
    max_exact_copies: int = 0
    max_close_share: float = 0.10
    min_dcr_ratio: float = 0.8
    max_membership_advantage: float = 0.10
    # A drill, never for real use: this share of the twin's rows are real member rows copied as they are
    # (with synthetic ids), to show the privacy check failing and nothing being published.
    leak_drill_share: float = 0.0

    def limits(self) -> PrivacyLimits:
        """The privacy limits this config holds (the blocking check's thresholds)."""
        return PrivacyLimits(
            max_exact_copies=self.max_exact_copies,
            max_close_share=self.max_close_share,
            min_dcr_ratio=self.min_dcr_ratio,
            max_membership_advantage=self.max_membership_advantage,
        )


def _types(con, path: Path, columns: tuple[str, ...]) -> dict[str, str]:
    """The DuckDB type of each column in a published Parquet file."""
    types = {c.name: c.type for c in parquet_schema_of(con, str(path)).columns}
    missing = [c for c in columns if c not in types]
    if missing:
        raise dg.Failure(f"{path} lacks the twin's columns {missing}: was it exported by another code version?")
    for c in columns:
        if not _TYPE.match(types[c]):
            raise dg.Failure(f"{path}: column {c} has type {types[c]!r}, which the twin does not handle")
    return {c: types[c] for c in columns}


def _read(
    con, path: Path, spec: TwinColumns, types: dict[str, str], holdout: float
) -> tuple[dict, np.ndarray, np.ndarray]:
    """(columns, persons, holdout flags) of a published split file; dates as days since 1970-01-01."""
    select = ", ".join(
        f"({c} - DATE '1970-01-01')::DOUBLE AS {c}"
        if types[c] == "DATE"
        else f"{c}::DOUBLE AS {c}"
        if c in spec.numeric
        else f"{c}::VARCHAR AS {c}"
        for c in (*spec.numeric, *spec.categorical)
    )
    data = run_sql(
        con, "splits/twin_rows.sql", {"path": str(path), "salt": HOLDOUT_SALT, "holdout": holdout}, select=select
    ).fetchnumpy()
    columns = {
        c: _unmasked(data[c], np.float64 if c in spec.numeric else object) for c in (*spec.numeric, *spec.categorical)
    }
    return columns, np.asarray(data["group_key"]).astype(str), np.asarray(data["holdout"]).astype(bool)


def _unmasked(values, dtype) -> np.ndarray:
    """A column of DuckDB's ``fetchnumpy`` with NULL as NaN (numbers) or None (objects). A column with
    NULLs comes as a masked array whose hidden items are not valid objects: never read them."""
    mask = np.ma.getmaskarray(values)
    out = np.full(len(mask), np.nan if dtype is np.float64 else None, dtype=dtype)
    out[~mask] = np.asarray(np.ma.getdata(values))[~mask]
    return out


def _take(columns: dict, rows: np.ndarray) -> dict:
    return {c: v[rows] for c, v in columns.items()}


def _write(con, twin, spec: TwinColumns, types: dict[str, str], path: Path) -> None:
    """The twin to the Parquet file ``path``, typed like the real export (columns in ``types`` order)."""
    arrays = {
        "example_id": pa.array(twin.example_ids, pa.string()),
        "group_key": pa.array(twin.person_ids, pa.string()),
    }
    for c in (*spec.numeric, *spec.categorical):
        values = twin.columns[c]
        arrays[c] = (
            pa.array(values, pa.float64(), from_pandas=True) if c in spec.numeric else pa.array(values, pa.string())
        )
    con.register("twin_rows", pa.table(arrays))
    try:
        select = ", ".join(
            f"(DATE '1970-01-01' + {c}::INTEGER) AS {c}" if types[c] == "DATE" else f"{c}::{types[c]} AS {c}"
            for c in types
        )
        run_sql(con, "splits/copy_twin.sql", select=select, path=sql_path(path))
    finally:
        con.unregister("twin_rows")


def twin_card_markdown(card: dict) -> str:
    """The twin's card as markdown."""
    s, u, p = card["source"], card["utility"], card["privacy"]
    lines = [
        f"# SYNTHETIC dataset card: {card['dataset']} {card['version']}",
        "",
        "**Every row of this dataset is synthetic.** No row, person id or example id belongs to a real person.",
        "",
        card["description"],
        "",
        "## Source",
        "",
        f"- {s['dataset']} version {s['version']}, split train: {s['member_rows']:,} rows of {s['member_persons']:,} "
        f"persons learnt from, {s['holdout_rows']:,} rows of {s['holdout_persons']:,} persons held out",
        f"- twin: {card['counts']['train']:,} rows of {card['persons']:,} synthetic persons (seed {card['seed']})",
        "",
        "## Method",
        "",
        card["method"],
        "",
        f"Covers: {card['covers']}",
        "",
        "## Fidelity (real members vs synthetic)",
        "",
        f"Mean absolute difference of pairwise correlations: {card['fidelity']['correlation_mad']:.4f} "
        f"({card['fidelity']['correlation_pairs']} pairs of numeric columns)",
        "",
        markdown_table([{**r, "value": round(r["value"], 4)} for r in card["fidelity"]["columns"]]),
        "",
        "## Utility (train on synthetic, test on real)",
        "",
        f"- {u['model']}, scored by ROC AUC on the real test split ({u['test_rows']:,} rows)",
        f"- trained on real: {_fmt(u.get('auc_train_on_real'))}; trained on synthetic: "
        f"{_fmt(u.get('auc_train_on_synthetic'))}",
        *([f"- note: {u['note']}"] if u.get("note") else []),
        "",
        "## Privacy",
        "",
        "| figure | value | limit |",
        "|---|---|---|",
        f"| exact copies of real rows | {p['exact_copies']} | at most {p['limits_applied']['max_exact_copies']} |",
        f"| DCR synthetic->real, 5th pct / median | {p['dcr_synthetic_p5']:.4f} / {p['dcr_synthetic_median']:.4f} | |",
        f"| DCR holdout->real, 5th pct / median | {p['dcr_holdout_p5']:.4f} / {p['dcr_holdout_median']:.4f} | |",
        f"| DCR ratio (medians) | {p['dcr_ratio']:.4f} | at least {p['limits_applied']['min_dcr_ratio']} |",
        f"| share closer than the holdout's 5th pct | {p['close_share']:.4f} | "
        f"at most {p['limits_applied']['max_close_share']:.4f} |",
        f"| membership inference advantage | {p['membership_advantage']:.4f} | at most "
        f"{p['limits_applied']['max_membership_advantage']:.4f} |",
        "",
        f"Rows compared per side: {p['rows_compared']:,}. The close share's and the advantage's limits widen on few "
        "rows to what chance gives 1 time in 100 (configured limits: card.json, privacy.limits). Verdict: "
        f"{'passed' if p['passed'] else 'FAILED'}.",
        "",
        *card_footer(card),
    ]
    return "\n".join(lines)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _method(columns: TwinColumns) -> str:
    """How the twin was made, in a sentence per step (for the card)."""
    steps = [
        "Gaussian copula (numpy/scipy): persons drawn first (rows per person"
        + "".join(f", {c}" for c in columns.person)
        + "), then each person's rows from the row copula conditioned on them",
        "inverse empirical CDF per numeric column, categoricals by their frequencies",
        *(f"{c} looked up from {source} through the real mapping" for c, source in columns.derived.items()),
    ]
    if columns.label:
        steps.append(f"{columns.label} drawn from a logistic regression on the other columns fitted on the members")
    return "; ".join(steps) + "."


def _card(spec, columns: TwinColumns, source, persons, held, twin, seed: int, version: str, figures: dict) -> dict:
    """Everything the twin's card says."""
    wanted = [c for c in export_columns(spec) if c in {*columns.numeric, *columns.categorical}]
    return {
        "dataset": f"synthetic/{spec.name}",
        "synthetic": True,
        "version": version,
        "created": dt.datetime.now(dt.UTC).isoformat(),
        "description": f"A synthetic twin of {spec.name} (train split), for sharing without real persons.",
        "source": {
            "dataset": spec.name,
            "version": source[0],
            "path": source[1],
            "member_rows": int((~held).sum()),
            "member_persons": len(set(persons[~held])),
            "holdout_rows": int(held.sum()),
            "holdout_persons": len(set(persons[held])),
        },
        "counts": {"train": len(twin)},
        "persons": twin.persons,
        "seed": seed,
        "method": _method(columns),
        "covers": f"the {spec.name} train split's features, label and day; not the provenance columns "
        "(source file and line), not dev or test",
        "columns": ["example_id", "group_key", *wanted, "is_synthetic"],
        "code_version": CODE_VERSION,
        **figures,
    }


def build_twin_asset(spec: DatasetSpec, columns: TwinColumns) -> dg.AssetsDefinition:
    """synthetic/<dataset> with its blocking privacy check."""
    key = dg.AssetKey(["synthetic", spec.name])
    check = dg.AssetCheckSpec(
        "privacy",
        asset=key,
        blocking=True,
        description="The twin copies no real row and sits no closer to the real rows it learnt from than real "
        "rows of unseen persons do (DCR, close share), and a distance attack cannot tell its members (membership "
        "inference advantage); a twin past any limit is not published.",
    )

    @dg.asset(
        key=key,
        deps=[dg.AssetKey(["exports", spec.name])],
        check_specs=[check],
        code_version=CODE_VERSION,
        group_name="synthetic",
        kinds={"duckdb", "python"},
        owners=["team:data-platform"],
        tags={"synthetic": "true"},
        description=f"SYNTHETIC twin of the latest published {spec.name} train split, for sharing with people who "
        "must not see real persons: a Gaussian copula sampled person by person, under "
        f"<exports>/synthetic/{spec.name}/<version>/ with a card (fidelity, utility, privacy). Published only "
        "when the privacy check passes.",
    )
    def _twin(context: dg.AssetExecutionContext, config: TwinConfig, warehouse: Warehouse):
        if not 0 < config.holdout_share < 1:
            raise dg.Failure(f"holdout_share must be in (0, 1), got {config.holdout_share}")
        with warehouse.connect() as con:
            run_sql(con, "splits/create_registry.sql")
            run_sql(con, "splits/create_twin_registry.sql")
            source = run_sql(con, "splits/latest_export.sql", {"dataset": spec.name}).fetchone()
            if source is None:
                raise dg.Failure(f"no published version of {spec.name}: materialize exports/{spec.name} first")
            version_dir = Path(source[1])
            # the real export's column order, provenance left out
            wanted = tuple(c for c in export_columns(spec) if c in {*columns.numeric, *columns.categorical})
            types = _types(con, version_dir / "train.parquet", wanted)
            train, persons, held = _read(con, version_dir / "train.parquet", columns, types, config.holdout_share)
            test, _, _ = _read(con, version_dir / "test.parquet", columns, types, 0.0)
            members, holdout = _take(train, ~held), _take(train, held)
            twin = sample_twin(members, persons[~held], columns, seed=config.seed, persons_scale=config.persons_scale)
            if config.leak_drill_share:
                twin = leak_drill(twin, members, config.leak_drill_share, seed=config.seed)
            root = exports_root() / "synthetic" / spec.name
            with tempfile.TemporaryDirectory(prefix="twin-") as scratch:
                draft = Path(scratch) / "train.parquet"
                _write(con, twin, columns, types, draft)
                same = " AND ".join(f"t.{c} IS NOT DISTINCT FROM r.{c}" for c in wanted)
                copies = run_sql(
                    con,
                    "splits/twin_exact_copies.sql",
                    {"twin": str(draft), "real": str(version_dir / "train.parquet")},
                    same=same,
                ).fetchone()[0]
                digest = run_sql(
                    con,
                    "splits/twin_digest.sql",
                    {"path": str(draft)},
                    row_text=row_text(["example_id", "group_key", *wanted]),
                ).fetchone()[0]
                figures = {
                    "fidelity": fidelity(members, twin.columns, columns),
                    "utility": utility(members, twin.columns, test, columns, spec.positive, config.seed),
                    "privacy": privacy(
                        members,
                        holdout,
                        twin.columns,
                        columns,
                        exact_copies=copies,
                        limits=config.limits(),
                        seed=config.seed,
                        max_rows=config.max_eval_rows,
                    ),
                }
                body = {
                    "columns": ["example_id", "group_key", *wanted, "is_synthetic"],
                    "rows": digest,
                    "of": source[0],
                }
                version = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
                target = root / version
                passed = figures["privacy"]["passed"]
                written = passed and not (target / "card.json").exists()
                if written:
                    publish_version(target, lambda staging: shutil.move(draft, staging / "train.parquet"))
            card = _card(spec, columns, source, persons, held, twin, config.seed, version, figures)
            export = Export(f"synthetic/{spec.name}", version, target, card["counts"], written)
            if written:
                write_card(export, card, twin_card_markdown)
            latest = run_sql(con, "splits/latest_twin.sql", {"dataset": spec.name}).fetchone()
            if passed and (written or not latest or latest[0] != version):
                run_sql(
                    con,
                    "splits/register_twin.sql",
                    {
                        "dataset": spec.name,
                        "version": version,
                        "path": str(target),
                        "source_version": source[0],
                        "examples": len(twin),
                        "persons": twin.persons,
                        "run_id": context.run.run_id,
                    },
                )
            schema = (
                parquet_schema_of(
                    con, str(target / "train.parquet"), f"synthetic.{spec.name}", f"splits.{spec.name}", spec.source
                )
                if passed
                else None
            )
        fid, util, priv = figures["fidelity"], figures["utility"], figures["privacy"]
        yield dg.MaterializeResult(
            metadata={
                "synthetic": True,
                "dagster/row_count": len(twin),
                **({"dagster/column_schema": schema} if schema else {}),
                "source_version": source[0],
                "version": version,
                "published": passed,
                "new_version": written,
                **({"path": dg.MetadataValue.path(str(target.resolve()))} if passed else {}),
                "synthetic_persons": twin.persons,
                "fidelity": dg.MetadataValue.md(
                    markdown_table([{**r, "value": round(r["value"], 4)} for r in fid["columns"]])
                ),
                "correlation_mad": round(fid["correlation_mad"], 4),
                "utility": dg.MetadataValue.json(util),
                "privacy": dg.MetadataValue.json(
                    {k: v for k, v in priv.items() if k not in ("limits", "limits_applied", "problems")}
                ),
                **({"card": dg.MetadataValue.md((target / "card.md").read_text(encoding="utf-8"))} if passed else {}),
                **(
                    {}
                    if passed
                    else {"note": "privacy check failed: nothing published; " + "; ".join(priv["problems"])}
                ),
            }
        )
        yield dg.AssetCheckResult(
            check_name="privacy",
            passed=passed,
            metadata={
                "problems": "; ".join(priv["problems"]) or "-",
                "exact_copies": priv["exact_copies"],
                "close_share": round(priv["close_share"], 4),
                "dcr_ratio": round(priv["dcr_ratio"], 4),
                "membership_advantage": round(priv["membership_advantage"], 4),
                "limits": dg.MetadataValue.json(priv["limits_applied"]),
            },
        )

    return _twin


TWIN_ASSETS = [build_twin_asset(spec, TWINS[name]) for name, spec in ((CTR.name, CTR),)]
