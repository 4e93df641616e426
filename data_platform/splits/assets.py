"""Split and publish assets: splits/<dataset> (with leakage, balance, fairness checks and the feature
signal report), the train-only balanced variant of the click data, and exports/<dataset> (versioned
Parquet with a dataset card)."""

import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa

from data_platform.base.enums import SENTIMENTS
from data_platform.base.keys import CTR_EXAMPLES, IDENTITY_MAP, REVIEW_EXAMPLES
from data_platform.cleaning.rules import RULESET_VERSION
from data_platform.labeling.functions import lf_registry_version
from data_platform.labeling.human import vote_table
from data_platform.labeling.review_assets import LABEL_MODEL
from data_platform.metadata import markdown_table, parquet_schema_of, table_schema_of
from data_platform.resources import Warehouse, existing_tables, exports_root, rows, run_sql, transaction
from data_platform.splits.export import Export, diff_versions, export_columns, sql_path, write_card, write_export
from data_platform.splits.fairness import agreement_by_group, divergences, group_table_from_counts
from data_platform.splits.hub_card import BALANCED_FILE
from data_platform.splits.near_duplicates import NearDuplicateSettings
from data_platform.splits.signal import feature_signal
from data_platform.splits.split import (
    CTR,
    DATASETS,
    DEFAULT_RATIOS,
    NEAR_DUPLICATES,
    REVIEWS,
    SPLITS,
    Assignment,
    DatasetSpec,
    assign_splits,
    check_ratios,
    date_range,
    near_duplicate_leaks,
    split_report,
)
from data_platform.splits.stage import STAGE
from data_platform.splits.synthetic import smote

_COMMON = dict(group_name="splits", kinds={"duckdb", "python"}, owners=["team:data-platform"])
UPSTREAM = {CTR.name: CTR_EXAMPLES, REVIEWS.name: REVIEW_EXAMPLES}
SIGNAL_SAMPLE = 200_000  # training rows read into Python for the signal report (the ids hashing lowest)


class SplitConfig(dg.Config):
    """Ratios and tolerances of a split."""

    train: float = DEFAULT_RATIOS[0]
    dev: float = DEFAULT_RATIOS[1]
    test: float = DEFAULT_RATIOS[2]
    # Splits are drawn per person, not per example: with heavy-tailed activity (a few persons with many
    # examples) the example shares wander a few points from the ratios (measured: train 0.639 of the demo).
    ratio_tolerance: float = 0.06
    share_tolerance: float = 0.05  # fairness: a group's share in a split vs overall
    rate_tolerance: float = 0.05  # fairness: a group's label rate vs the split's
    # Near-duplicate texts (text datasets; see docs/splits.md "Near-duplicate leakage"): the cluster of
    # persons joined by near copies is the group a split is drawn for (False: the person only), and the
    # blocking check fails when more than max_near_duplicate_pairs_across_splits pairs sit in two splits.
    group_near_duplicates: bool = True
    near_duplicate_jaccard: float = NEAR_DUPLICATES.threshold  # exact Jaccard of the word shingle sets, at least
    near_duplicate_shingle_words: int = NEAR_DUPLICATES.shingle_words
    near_duplicate_min_words: int = NEAR_DUPLICATES.min_words  # shorter texts (stock phrases) are not compared
    near_duplicate_max_persons: int = NEAR_DUPLICATES.max_persons  # a text written by more persons is a common text
    max_near_duplicate_pairs_across_splits: int = 0

    def near_duplicate_settings(self) -> NearDuplicateSettings:
        """The near-duplicate settings this config holds."""
        return NearDuplicateSettings(
            threshold=self.near_duplicate_jaccard,
            shingle_words=self.near_duplicate_shingle_words,
            min_words=self.near_duplicate_min_words,
            max_persons=self.near_duplicate_max_persons,
        )


def build_split_asset(spec: DatasetSpec) -> dg.AssetsDefinition:
    """splits/<dataset> with its blocking checks (balance, leakage) and the WARN fairness check."""
    key = dg.AssetKey(["splits", spec.name])
    checks = [
        dg.AssetCheckSpec(
            "split_ratios",
            asset=key,
            blocking=True,
            description="Each split's share of the examples is within tolerance of its ratio.",
        ),
        dg.AssetCheckSpec(
            "label_balance",
            asset=key,
            blocking=True,
            description="Each label's share in each split is within tolerance of the whole.",
        ),
        dg.AssetCheckSpec(
            "no_leakage",
            asset=key,
            blocking=True,
            description="No person and no device in two splits, no example twice, and no feature known only "
            "after the label event among the exported columns.",
        ),
        *(
            [
                dg.AssetCheckSpec(
                    NEAR_DUPLICATE_CHECK,
                    asset=key,
                    blocking=True,
                    description="No pair of near-duplicate texts (by default exact Jaccard >= 0.8 on word "
                    "3-shingles of the redacted text, found with MinHash LSH) sits in two splits, beyond the "
                    "configured allowance (0 by default): a review and its copy by another person share a split.",
                )
            ]
            if spec.text_column
            else []
        ),
        dg.AssetCheckSpec(
            "fairness",
            asset=key,
            blocking=False,
            description="Per group (country, device, ...): representation per split and label rate "
            "within tolerance of the whole (WARN).",
        ),
    ]

    @dg.asset(
        key=key,
        # the examples, and the current identity map that groups them by person (sql/splits/assign.sql)
        deps=[UPSTREAM[spec.name], IDENTITY_MAP],
        check_specs=checks,
        code_version="splits-2",
        **_COMMON,
        description=f"Deterministic train/dev/test split of {spec.source} ({spec.where}): by a hash of the "
        + (
            "cluster (the person, joined with the persons whose reviews are near copies of theirs), so a person "
            "and a near-duplicate text are in one split only"
            if spec.text_column
            else "person, so a person is in one split only"
        )
        + " and an example keeps its split when days are added. "
        "Metadata: counts, label shares, the fairness table and the feature-signal report of train.",
    )
    def _split(context: dg.AssetExecutionContext, config: SplitConfig, warehouse: Warehouse):
        ratios = check_ratios((config.train, config.dev, config.test))
        with warehouse.connect() as con:
            assignment = assign_splits(
                con, spec, ratios, config.near_duplicate_settings(), group_near_duplicates=config.group_near_duplicates
            )
            n = assignment.examples
            report = split_report(con, spec)
            leaks = near_duplicate_leaks(con, spec)
            # a dataset with no examples (e.g. logs without any review) has no groups, signal or agreement
            fairness_rows = _fairness(con, spec, config) if n else ([], [])
            signal = _signal(con, spec) if n else []
            agreement = _agreement_by_group(con) if spec is REVIEWS and n else []
            columns = table_schema_of(con, f"splits.{spec.name}")
        ratio_problems = report.ratio_problems(ratios, config.ratio_tolerance)
        label_problems = report.label_problems(spec.label_tolerance)
        table, flagged = fairness_rows
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": n,
                "dagster/column_schema": columns,
                **({} if n else {"note": f"no examples in {spec.source} ({spec.where}): nothing to split"}),
                "examples_by_split": dg.MetadataValue.json(report.by_split),
                "label_share": dg.MetadataValue.json(
                    {s: {k: round(v, 4) for k, v in d.items()} for s, d in report.label_share.items()}
                ),
                "fairness": dg.MetadataValue.md(markdown_table(table)),
                "feature_signal": dg.MetadataValue.md(markdown_table(signal)),
                **(
                    {"rater_agreement_by_category": dg.MetadataValue.md(markdown_table(agreement))} if agreement else {}
                ),
                **STAGE.lineage_metadata(f"splits.{spec.name}"),
            }
        )
        yield dg.AssetCheckResult(
            check_name="split_ratios",
            passed=not ratio_problems,
            metadata={
                "problems": ", ".join(ratio_problems) or "-",
                "shares": dg.MetadataValue.json(report.share_by_split),
            },
        )
        yield dg.AssetCheckResult(
            check_name="label_balance",
            passed=not label_problems,
            metadata={"problems": ", ".join(label_problems) or "-", "tolerance": spec.label_tolerance},
        )
        yield dg.AssetCheckResult(
            check_name="no_leakage",
            passed=not (
                report.groups_in_several_splits
                or report.devices_in_several_splits
                or report.duplicate_examples
                or report.leaky_features
            ),
            metadata={
                "groups_in_several_splits": report.groups_in_several_splits,
                "devices_in_several_splits": report.devices_in_several_splits,
                "duplicate_examples": report.duplicate_examples,
                "leaky_features": ", ".join(report.leaky_features) or "-",
                "never_exported": ", ".join(spec.leaky),
            },
        )
        if spec.text_column:
            yield _near_duplicate_result(assignment, leaks, config)
        yield dg.AssetCheckResult(
            check_name="fairness",
            passed=not flagged,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"divergences": dg.MetadataValue.md(markdown_table(flagged))},
        )

    return _split


NEAR_DUPLICATE_CHECK = "no_near_duplicate_leakage"
LEAK_SAMPLE = 20  # pairs across splits listed in the check's metadata


def _near_duplicate_result(assignment: Assignment, leaks: list[dict], config: SplitConfig) -> dg.AssetCheckResult:
    """The blocking near-duplicate check: pairs across splits against the allowance, with what was found.
    The pairs list example ids, splits, the Jaccard figures and a digest of each text (never the text:
    it may hold a name)."""
    found = assignment.near_duplicates
    allowed = config.max_near_duplicate_pairs_across_splits
    settings = config.near_duplicate_settings()
    passed = len(leaks) <= allowed
    return dg.AssetCheckResult(
        check_name=NEAR_DUPLICATE_CHECK,
        passed=passed,
        description=None
        if passed
        else f"{len(leaks)} pairs of near-duplicate texts sit in two splits (allowed {allowed}), grouped by "
        + ("near-duplicate clusters" if assignment.grouped_near_duplicates else "person only"),
        metadata={
            "pairs_across_splits": len(leaks),
            "allowed_pairs_across_splits": allowed,
            "examples_with_a_copy_in_another_split": len({r[k] for r in leaks for k in ("example_a", "example_b")}),
            "near_duplicate_pairs": len(found.pairs) if found else 0,
            "clusters_of_several_persons": found.clusters if found else 0,
            "grouping": "near-duplicate clusters and persons" if assignment.grouped_near_duplicates else "persons only",
            "common_texts": found.common_texts if found else 0,
            "common_text_examples": found.common_examples if found else 0,
            "compared_texts": found.compared_texts if found else 0,
            "definition": f"exact Jaccard >= {settings.threshold} on word {settings.shingle_words}-shingles of "
            f"texts of >= {settings.min_words} words; texts written by more than {settings.max_persons} persons "
            "are common texts (not grouped, not counted)",
            "pairs": dg.MetadataValue.md(markdown_table([_rounded(r) for r in leaks[:LEAK_SAMPLE]])),
        },
    )


def _fairness(con, spec: DatasetSpec, config: SplitConfig) -> tuple[list[dict], list[dict]]:
    """The group table (per attribute) and the divergences beyond tolerance, from counts per attribute,
    group and split computed in DuckDB (one join of the split table with its source for every attribute)."""
    split_table = f"splits.{spec.name}"
    positive = (
        spec.positive
        if spec.binary
        else run_sql(con, "splits/majority_label.sql", split_table=split_table).fetchone()[0]
    )
    counts: dict[str, list[tuple]] = {a: [] for a in spec.group_attributes}
    for attribute, *count in run_sql(
        con,
        "splits/group_counts.sql",
        {"positive": positive},
        source=spec.source,
        split_table=split_table,
        id_column=spec.id_column,
        attributes=", ".join(f"e.{a}::VARCHAR AS {a}" for a in spec.group_attributes),
        names=", ".join(spec.group_attributes),
    ).fetchall():
        counts[attribute].append(tuple(count))
    table, flagged = [], []
    for attribute in spec.group_attributes:
        rows_ = group_table_from_counts(counts[attribute])
        table += [{"attribute": attribute, **_rounded(r)} for r in rows_]
        flagged += [
            {"attribute": attribute, **_rounded(r)}
            for r in divergences(rows_, share_tolerance=config.share_tolerance, rate_tolerance=config.rate_tolerance)
        ]
    return table, flagged


def _agreement_by_group(con) -> list[dict]:
    """Krippendorff's alpha of the human annotations per item category (people may agree less on some)."""
    if "labels.annotations" not in existing_tables(con):
        return []
    table = vote_table(rows(con, "labeling/annotation_rows.sql"))
    if not table.reviews:
        return []
    category = dict(con.execute("SELECT review_id, category FROM labels.reviews").fetchall())
    groups = np.array([category.get(r) or "unknown" for r in table.reviews], dtype=object)
    return [_rounded(r) for r in agreement_by_group(table.votes, groups, len(SENTIMENTS))]


def _rounded(row: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


def _signal(con, spec: DatasetSpec) -> list[dict]:
    """Mutual information (and AUC for a binary label) of each feature on a sample of train."""
    data = run_sql(
        con,
        "splits/train_sample.sql",
        n=str(SIGNAL_SAMPLE),
        select=", ".join(f"e.{c}" for c in spec.features),
        source=spec.source,
        split_table=f"splits.{spec.name}",
        id_column=spec.id_column,
        label_column=spec.label_column,
    ).fetchnumpy()
    y = np.asarray(data.pop("__label")).astype(str)
    if spec.binary:
        y = (y == spec.positive).astype(int)
    columns = {}
    for name, values in data.items():
        array = np.asarray(values)
        kind = "numeric" if array.dtype.kind in "iuf" else "categorical"
        columns[name] = (array.astype(float) if kind == "numeric" else array.astype(object), kind)
    return [_rounded(r) for r in feature_signal(columns, y, binary=spec.binary)]


BALANCED = dg.AssetKey(["splits", "ctr_examples_train_balanced"])
BALANCE_NUMERIC = (
    "position",
    "price_eur",
    "hour_of_day",
    "day_of_week",
    "user_impressions_7d",
    "user_clicks_7d",
    "item_impressions_7d",
    "item_clicks_7d",
    "predicted_ctr",
)
BALANCE_CATEGORICAL = ("position_bucket", "category", "device", "country", "model_version")
SYNTHETIC_CHECK = dg.AssetCheckSpec(
    "synthetic_only_in_train",
    asset=BALANCED,
    blocking=True,
    description="Every synthetic row descends from train rows only, and no synthetic id is in dev or test.",
)


class BalanceConfig(dg.Config):
    """The train-only balanced variant."""

    target_ratio: float = 0.5  # clicked / not clicked after balancing, if the cap allows it
    k: int = 5
    seed: int = 0
    # at most this many synthetic clicks per real one (SMOTE's authors used 1 to 5): on rare positives
    # the target ratio is then not reached, and the metadata and the card say so
    max_synthetic_per_real: float = 5.0
    # fewer real clicks than this in train: nothing to synthesize from (no synthetic rows, said so)
    min_real_minority: int = 50


@dg.asset(
    key=BALANCED,
    deps=[dg.AssetKey(["splits", CTR.name])],
    check_specs=[SYNTHETIC_CHECK],
    code_version="balance-2",
    **_COMMON,
)
def ctr_train_balanced(config: BalanceConfig, warehouse: Warehouse):
    """Optional train-only balanced click data: the train split plus SMOTE-style synthetic clicked
    examples (numeric features interpolated between a clicked example and one of its 5 nearest clicked
    neighbours, categoricals taken from the nearer end), each marked is_synthetic with the ids of the two
    rows it came from. Dev and test are never touched. At most max_synthetic_per_real (5) synthetic
    clicks per real one, and none with fewer than min_real_minority (50) real clicks in train."""
    with warehouse.connect() as con:
        train = run_sql(
            con,
            "splits/train_rows.sql",
            source=CTR.source,
            split_table=f"splits.{CTR.name}",
            id_column=CTR.id_column,
            select=", ".join(f"e.{c}" for c in (*BALANCE_NUMERIC, *BALANCE_CATEGORICAL)),
        ).fetchnumpy()
        numeric = np.column_stack([np.asarray(train[c], dtype=float) for c in BALANCE_NUMERIC])
        categorical = np.column_stack([np.asarray(train[c]).astype(object) for c in BALANCE_CATEGORICAL])
        labels = np.asarray(train["label"]).astype(int)
        synthetic = smote(
            numeric,
            categorical,
            labels,
            np.asarray(train["example_id"]).astype(str),
            target_ratio=config.target_ratio,
            k=config.k,
            seed=config.seed,
            max_per_row=config.max_synthetic_per_real,
            min_rows=config.min_real_minority,
        )
        records = [
            {
                "example_id": sid,
                "is_synthetic": True,
                "parent_id": p,
                "neighbour_id": nb,
                "label": int(lab),
                **{c: (None if np.isnan(v) else float(v)) for c, v in zip(BALANCE_NUMERIC, num)},
                **{c: (None if v is None else str(v)) for c, v in zip(BALANCE_CATEGORICAL, cat)},
            }
            for sid, p, nb, lab, num, cat in zip(
                synthetic.ids,
                synthetic.parent_ids,
                synthetic.neighbour_ids,
                synthetic.labels,
                synthetic.numeric,
                synthetic.categorical,
            )
        ]
        schema = pa.schema(
            [
                ("example_id", pa.string()),
                ("is_synthetic", pa.bool_()),
                ("parent_id", pa.string()),
                ("neighbour_id", pa.string()),
                ("label", pa.int64()),
                *[(c, pa.float64()) for c in BALANCE_NUMERIC],
                *[(c, pa.string()) for c in BALANCE_CATEGORICAL],
            ]
        )
        con.register("synthetic_rows", pa.Table.from_pylist(records, schema=schema))
        run_sql(
            con,
            "splits/balanced_table.sql",
            source=CTR.source,
            split_table=f"splits.{CTR.name}",
            id_column=CTR.id_column,
            numeric=", ".join(f"e.{c}::DOUBLE AS {c}" for c in BALANCE_NUMERIC),
            categorical=", ".join(f"e.{c}::VARCHAR AS {c}" for c in BALANCE_CATEGORICAL),
        )
        con.unregister("synthetic_rows")
        counts = dict(run_sql(con, "splits/balanced_counts.sql").fetchall())
        leaks = run_sql(con, "splits/synthetic_leaks.sql", split_table=f"splits.{CTR.name}").fetchone()[0]
        columns = table_schema_of(con, "splits.ctr_examples_train_balanced")
    real_minority = int((labels == 1).sum())
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(counts.values()),
            "dagster/column_schema": columns,
            "by_label_and_origin": dg.MetadataValue.json({str(k): v for k, v in counts.items()}),
            "synthetic_rows": len(records),
            "real_minority_rows": real_minority,
            "synthetic_per_real": round(len(records) / real_minority, 4) if real_minority else 0.0,
            "max_synthetic_per_real": config.max_synthetic_per_real,
            "min_real_minority": config.min_real_minority,
            "note": synthetic.note or "-",
        }
    )
    yield dg.AssetCheckResult(
        check_name=SYNTHETIC_CHECK.name,
        passed=leaks == 0,
        metadata={"synthetic_rows_with_a_non_train_parent_or_in_dev_test": leaks},
    )


def build_export_asset(spec: DatasetSpec) -> dg.AssetsDefinition:
    """exports/<dataset>: the versioned Parquet export with its card."""
    key = dg.AssetKey(["exports", spec.name])
    deps = [dg.AssetKey(["splits", spec.name])] + ([BALANCED] if spec is CTR else [])

    @dg.asset(
        key=key,
        deps=deps,
        code_version="exports-1",
        **_COMMON,
        description=f"Versioned export of {spec.name}: train/dev/test Parquet files under "
        f"data/exports/{spec.name}/<version>/ with a dataset card (markdown and JSON); the version is a "
        "content hash, and the card lists what changed since the previous version.",
    )
    def _export(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        root = exports_root()
        with warehouse.connect() as con:
            run_sql(con, "splits/create_registry.sql")
            # one transaction: everything the version is read from is one snapshot (on the lake: recorded with it,
            # `data-platform dataset-version` reads the version back from it)
            with transaction(con):
                snapshot = warehouse.snapshot(con)
                previous = run_sql(con, "splits/latest_export.sql", {"dataset": spec.name}).fetchone()
                if not split_report(con, spec).examples:
                    # nothing to publish: no empty version is written or registered, the latest stays current
                    return dg.MaterializeResult(
                        metadata={
                            "dagster/row_count": 0,
                            "new_version": False,
                            "published": False,
                            "note": f"no examples in {spec.source} ({spec.where}): nothing published"
                            + (f"; version {previous[0]} stays the current one" if previous else ""),
                        }
                    )
                export = write_export(con, spec, root)
                if spec is CTR and export.written:
                    run_sql(
                        con,
                        "splits/copy_balanced.sql",
                        path=sql_path(export.path / BALANCED_FILE),
                    )
                card = _card(con, spec, export, previous, _balancing(context) if spec is CTR else None)
                if snapshot is not None:
                    card["lake_snapshot"] = snapshot
                if export.written:
                    write_card(export, card)
                if export.written or not previous or previous[0] != export.version:
                    # a version already on disk (published before, e.g. by another warehouse) is registered
                    # again when it becomes the current one
                    run_sql(
                        con,
                        "splits/register_export.sql",
                        {
                            "dataset": spec.name,
                            "version": export.version,
                            "path": str(export.path),
                            "examples": sum(export.counts.values()),
                            "previous": previous[0] if previous else None,
                            "run_id": context.run.run_id,
                            "lake_snapshot": snapshot,
                        },
                    )
                columns = parquet_schema_of(con, str(export.path / "train.parquet"), f"splits.{spec.name}", spec.source)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": sum(export.counts.values()),
                "dagster/column_schema": columns,
                "version": export.version,
                **({"lake_snapshot": snapshot} if snapshot is not None else {}),
                "new_version": export.written,
                "published": True,
                "path": dg.MetadataValue.path(str(export.path.resolve())),
                "card": dg.MetadataValue.md((export.path / "card.md").read_text(encoding="utf-8")),
            }
        )

    return _export


def _balancing(context: dg.AssetExecutionContext) -> dict | None:
    """What the latest train-only balanced variant holds (its materialization's metadata), for the card."""
    event = context.instance.get_latest_materialization_event(BALANCED)
    if event is None or event.asset_materialization is None:
        return None
    meta = event.asset_materialization.metadata
    keys = (
        "real_minority_rows",
        "synthetic_rows",
        "synthetic_per_real",
        "max_synthetic_per_real",
        "min_real_minority",
        "note",
    )
    return {k: meta[k].value for k in keys if k in meta}


def _near_duplicate_summary(con, spec: DatasetSpec) -> dict:
    """Near-duplicate pairs between persons and across splits, for the card of a text dataset."""
    if not spec.text_column or spec.near_duplicates_table not in existing_tables(con):
        return {}
    [(pairs,)] = con.execute(f"SELECT count(*) FROM {spec.near_duplicates_table}").fetchall()
    return {
        "pairs_between_persons": pairs,
        "pairs_across_splits": len(near_duplicate_leaks(con, spec)),
        "definition": "word-shingle Jaccard of the redacted text at least the split's threshold, 0.8 by default",
    }


def _card(con, spec: DatasetSpec, export: Export, previous, balancing: dict | None = None) -> dict:
    """Everything the dataset card says."""
    report = split_report(con, spec)
    first, last = date_range(con, spec)
    sources = {
        "table": spec.source,
        "examples": spec.where,
        "days": f"{first} to {last}",
        "landing files": run_sql(
            con,
            "splits/source_files.sql",
            source=spec.source,
            id_column=spec.id_column,
            split_table=f"splits.{spec.name}",
        ).fetchone()[0],
    }
    unit = "near-duplicate cluster of persons" if spec.text_column else "person"
    code = {"splits": f"splits-2 (md5 of the {unit}, salt splits-v1)", "cleaning ruleset": RULESET_VERSION}
    if spec is REVIEWS:
        code.update({"labeling functions": lf_registry_version(), "label model": LABEL_MODEL})
    issues = (
        [
            f"{r['day']} {r['severity']} {r['table_name']}.{r['feature']}: {r['kind']}"
            for r in rows(con, "splits/known_issues.sql", {"first": first, "last": last})
        ]
        if first and "monitoring.anomalies" in existing_tables(con)
        else []
    )
    card = {
        "dataset": spec.name,
        "version": export.version,
        "created": dt.datetime.now(dt.UTC).isoformat(),
        "description": f"{spec.source} where {spec.where}, split {', '.join(SPLITS)} by person.",
        "counts": export.counts,
        "label_share": report.label_share,
        "columns": export_columns(spec),
        "assignment": f"md5(salt | {unit}) -> bucket in [0, 1), cut 60/20/20; one {unit} per split",
        "sources": sources,
        "code_versions": code,
        "known_issues": issues[:30],
        "label_sources": dict(
            con.execute(
                "SELECT label_source, count(*) FROM labels.review_examples GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall()
        )
        if spec is REVIEWS
        else {},
        "balanced_train": balancing or {},
        "near_duplicates": _near_duplicate_summary(con, spec),
    }
    if previous and previous[0] != export.version and Path(previous[1]).exists():
        card["diff"] = diff_versions(con, Path(previous[1]), export.path)
    return card


SPLIT_ASSETS = [build_split_asset(spec) for spec in DATASETS.values()]
EXPORT_ASSETS = [build_export_asset(spec) for spec in DATASETS.values()]
SPLITS_GROUP_ASSETS = [*SPLIT_ASSETS, ctr_train_balanced, *EXPORT_ASSETS]
