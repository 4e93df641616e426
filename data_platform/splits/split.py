"""Deterministic, stratified, group-aware train/dev/test splits, and the checks they must pass.

**Assignment.** An example's split is a pure function of its group key (the person pseudonym in the
current identity map, found through the example's event and device, see ``sql/splits/assign.sql``): the
md5 of ``salt | group_key`` gives a bucket in [0, 1), and the configured ratios (default 60/20/20) cut
the buckets into train, dev and test. Hence:

- one person, and one device, never appears in two splits (group-aware: no user leakage; the check
  counts both, so a device whose examples were keyed to two persons is caught too);
- an example keeps its split across reruns, and when new days are added (nothing depends on the
  rest of the data);
- stratification is statistical, not forced: with hundreds of persons the label share of each split
  stays within tolerance of the whole, and a blocking check fails the run when it does not (forcing
  exact strata would move examples between splits when new data arrives). The allowances widen to
  three standard deviations of what chance gives when data is small (few persons, small splits).

md5 (not DuckDB's ``hash()``) keeps the assignment stable across DuckDB versions and machines.

**Near-duplicate clusters** (text datasets, ``text_column``): persons whose reviews are near copies of
each other (see :mod:`data_platform.splits.near_duplicates`) are one cluster, and the bucket is drawn
for the cluster (``cluster_key``), so a review and its copy by another person share a split. A person
with no near-duplicate keeps its own key, hence its split; a new near-duplicate that joins two persons
moves one of them (the export diff counts it).

**Time-based variant** (click data): ``split_time`` puts the earliest 60% of days in train, the next
20% in dev, the last 20% in test. It answers "does it work on the future?"; it is not group-aware
(a person active over the whole period is in several splits) and it moves when days are added.

The tables are ``splits.<dataset>``: one row per example with ``split`` (and ``split_time``), the
group key, the label and the example's day. The exported feature columns are listed per dataset;
``leaky`` columns (known only after the label event) are never exported, which a check verifies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from data_platform.base.stage import SqlStep
from data_platform.resources import existing_tables, rows, run_sql, write_rows
from data_platform.splits.near_duplicates import NearDuplicates, NearDuplicateSettings, find_near_duplicates

DEFAULT_RATIOS = (0.6, 0.2, 0.2)
SPLITS = ("train", "dev", "test")
SALT = "splits-v1"
CLUSTERS = "near_duplicate_clusters"  # the relation assign.sql reads (person -> cluster key) from
NEAR_DUPLICATES = NearDuplicateSettings()  # the default settings


@dataclass(frozen=True)
class DatasetSpec:
    """A labeled dataset to split and publish."""

    name: str
    source: str
    id_column: str
    group_column: str  # the person key stored with the example (the identity map as of its day)
    event_id_column: str  # the clean.events event the example comes from: its device and current person
    label_column: str
    date_column: str
    where: str  # which source rows are examples (SQL condition written in code)
    features: tuple[str, ...]
    label_columns: tuple[str, ...]  # the label and what describes it (source, confidence)
    leaky: tuple[str, ...]  # known only after the label event: never features
    provenance: tuple[str, ...] = ("source_file", "source_line")
    group_attributes: tuple[str, ...] = ("country", "device")
    binary: bool = True
    positive: str = "1"
    time_split: bool = False
    label_tolerance: float = 0.02  # max |label share in a split - in the whole|, per class
    text_column: str | None = None  # free text (redacted) checked for near-duplicates across splits

    @property
    def near_duplicates_table(self) -> str:
        """The near-duplicate pairs of a text dataset (``splits.<name>_near_duplicates``)."""
        return f"splits.{self.name}_near_duplicates"


CTR = DatasetSpec(
    name="ctr_examples",
    source="labels.ctr_examples",
    id_column="impression_id",
    group_column="person_key",
    event_id_column="impression_event_id",
    label_column="label",
    date_column="event_date",
    where="label_status = 'mature'",
    features=(
        "position",
        "position_bucket",
        "category",
        "price_eur",
        "device",
        "country",
        "hour_of_day",
        "day_of_week",
        "user_impressions_7d",
        "user_clicks_7d",
        "item_impressions_7d",
        "item_clicks_7d",
        "predicted_ctr",
        "model_version",
    ),
    label_columns=("label",),
    leaky=(
        "click_event_id",
        "click_delay_s",
        "clicks_on_impression",
        "label_status",
        "data_seen_until",
        "labeled_at",
        "label_run_id",
    ),
    time_split=True,
    label_tolerance=0.01,
)
REVIEWS = DatasetSpec(
    name="review_examples",
    source="labels.review_examples",
    id_column="review_id",
    group_column="person_key",
    event_id_column="review_id",
    label_column="label",
    date_column="event_date",
    where="true",
    features=("text", "rating", "category", "item_id"),
    label_columns=("label", "label_source", "label_confidence", "rater_count"),
    leaky=(
        "human_label",
        "human_confidence",
        "weak_label",
        "weak_confidence",
        "suspected_label_error",
        "label_model",
        "labeled_at",
        "label_run_id",
    ),
    group_attributes=("category",),
    binary=False,
    label_tolerance=0.06,
    text_column="text",
)
DATASETS = {d.name: d for d in (CTR, REVIEWS)}


def assign_step(spec: DatasetSpec) -> SqlStep:
    """The statement that builds ``splits.<name>`` (the split runner executes it; lineage is derived from it)."""
    return SqlStep(
        "splits/assign.sql",
        {
            "target": f"splits.{spec.name}",
            "source": spec.source,
            "id_column": spec.id_column,
            "group_column": spec.group_column,
            "event_id_column": spec.event_id_column,
            "label_column": spec.label_column,
            "date_column": spec.date_column,
            "where": spec.where,
            "clusters": CLUSTERS,
        },
    )


def check_ratios(ratios: tuple[float, float, float]) -> tuple[float, float, float]:
    """``ratios`` if they are three non-negative shares summing to 1, else ValueError."""
    if len(ratios) != 3 or min(ratios) < 0 or abs(sum(ratios) - 1) > 1e-9:
        raise ValueError(f"split ratios must be three non-negative shares summing to 1, got {ratios}")
    return ratios


@dataclass(frozen=True)
class Assignment:
    """What :func:`assign_splits` did: the examples split, and the near-duplicates of a text dataset."""

    examples: int
    near_duplicates: NearDuplicates | None = None
    grouped_near_duplicates: bool = False  # the clusters, not only the persons, were the groups


_CLUSTER_SCHEMA = pa.schema([("unit_key", pa.string()), ("cluster_key", pa.string())])
_PAIR_SCHEMA = pa.schema(
    [
        ("example_a", pa.string()),
        ("example_b", pa.string()),
        ("estimated_jaccard", pa.float64()),
        ("jaccard", pa.float64()),
        ("text_a", pa.string()),  # the first 12 hex digits of the md5 of the text's words: no text, no name
        ("text_b", pa.string()),
    ]
)


def assign_splits(
    con: duckdb.DuckDBPyConnection,
    spec: DatasetSpec,
    ratios: tuple[float, float, float] = DEFAULT_RATIOS,
    near_duplicates: NearDuplicateSettings | None = NEAR_DUPLICATES,
    group_near_duplicates: bool = True,
) -> Assignment:
    """(Re)build ``splits.<dataset>`` and, for a text dataset, ``splits.<dataset>_near_duplicates``.

    The first pass draws each person's split; for a text dataset the near-duplicates between persons
    are then found (with ``near_duplicates``), and with ``group_near_duplicates`` a second pass draws
    the split of each cluster of persons joined by them (the person grouping only otherwise).

    A source table that does not exist (its labeling job never ran, or the logs hold no event of its
    type, e.g. no review) gives an empty split table: a dataset with no examples, not an error."""
    train, dev, _ = check_ratios(ratios)
    con.execute("CREATE SCHEMA IF NOT EXISTS splits")
    if spec.source not in existing_tables(con):
        run_sql(con, "splits/empty_split_table.sql", target=f"splits.{spec.name}")
        return Assignment(0)
    step = assign_step(spec)

    def assign(cluster_of: dict[str, str]) -> None:
        con.register(
            CLUSTERS,
            pa.table({"unit_key": list(cluster_of), "cluster_key": list(cluster_of.values())}, schema=_CLUSTER_SCHEMA),
        )
        try:
            run_sql(con, step.name, {"salt": SALT, "train": train, "dev": dev}, **step.fragments)
        finally:
            con.unregister(CLUSTERS)

    assign({})
    found = None
    if spec.text_column and near_duplicates is not None:
        found = find_near_duplicates(
            con, f"splits.{spec.name}", spec.source, spec.id_column, spec.text_column, near_duplicates
        )
        write_rows(con, spec.near_duplicates_table, found.pairs, _PAIR_SCHEMA, replace=True)
        if group_near_duplicates and found.cluster_of:
            assign(found.cluster_of)
    elif spec.text_column:
        con.execute(f"DROP TABLE IF EXISTS {spec.near_duplicates_table}")  # not looked for: no stale pairs
    n = con.execute(f"SELECT count(*) FROM splits.{spec.name}").fetchone()[0]
    return Assignment(n, found, bool(found and group_near_duplicates))


def near_duplicate_leaks(con: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> list[dict]:
    """The near-duplicate pairs of a text dataset whose examples sit in different splits (most similar
    first); none for a dataset without text or whose pairs were never computed."""
    if not spec.text_column or spec.near_duplicates_table not in existing_tables(con):
        return []
    return rows(
        con, "splits/near_duplicate_leaks.sql", pairs=spec.near_duplicates_table, split_table=f"splits.{spec.name}"
    )


@dataclass(frozen=True)
class SplitReport:
    """What the split checks look at."""

    examples: int
    by_split: dict[str, int]
    share_by_split: dict[str, float]
    label_share: dict[str, dict[str, float]]  # split (and "all") -> label -> share
    groups_in_several_splits: int
    devices_in_several_splits: int
    duplicate_examples: int
    leaky_features: list[str]
    concentration: float = 0.0  # sum of squared group shares of the examples

    def ratio_problems(self, ratios: tuple[float, float, float], tolerance: float) -> list[str]:
        """Splits whose share of the examples is further from its ratio than the allowance:
        ``tolerance``, or three standard deviations of a hashed-by-group share when larger
        (``sqrt(r (1 - r) sum(w^2))``: few or very unequal persons make the shares wander). A dataset
        with no examples has no share to be off."""
        if not self.examples:
            return []
        out = []
        for s, r in zip(SPLITS, ratios):
            allowed = max(tolerance, 3 * (r * (1 - r) * self.concentration) ** 0.5)
            share = self.share_by_split.get(s, 0)
            if abs(share - r) > allowed:
                out.append(f"{s}: {share:.3f} vs {r:.2f} (allowed {allowed:.3f})")
        return out

    def label_problems(self, tolerance: float) -> list[str]:
        """(split, label) whose share differs from the whole by more than the allowance: ``tolerance``,
        or three standard errors of a share on that split's size when that is larger (a 50-example
        split cannot hold a share to a point)."""
        whole = self.label_share.get("all", {})
        out = []
        for s in SPLITS:
            n = max(self.by_split.get(s, 0), 1)
            for label, share in self.label_share.get(s, {}).items():
                p = whole.get(label, 0)
                allowed = max(tolerance, 3 * (p * (1 - p) / n) ** 0.5)
                if abs(share - p) > allowed:
                    out.append(f"{s} {label}: {share:.4f} vs {p:.4f} (allowed {allowed:.4f})")
        return out


def split_report(con: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> SplitReport:
    """Counts, shares, label shares, groups in several splits, duplicates and leaky features."""
    table = f"splits.{spec.name}"
    by_split = {r["split"]: r["examples"] for r in rows(con, "splits/count_by_split.sql", table=table)}
    total = sum(by_split.values())
    label_share: dict[str, dict[str, float]] = {}
    for r in rows(con, "splits/label_share.sql", table=table):
        label_share.setdefault(r["split"], {})[str(r["label"])] = r["share"]
    crossing, devices, duplicates, concentration = run_sql(con, "splits/leakage_counts.sql", table=table).fetchone()
    return SplitReport(
        examples=total,
        by_split=by_split,
        share_by_split={s: n / total for s, n in by_split.items()} if total else {},
        label_share=label_share,
        groups_in_several_splits=crossing,
        devices_in_several_splits=devices,
        duplicate_examples=duplicates,
        leaky_features=sorted(set(spec.features) & set(spec.leaky)),
        concentration=float(concentration or 0.0),
    )


def splits_of(con: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> dict[str, str]:
    """example id -> split (for tests and diffs)."""
    return dict(con.execute(f"SELECT example_id, split FROM splits.{spec.name}").fetchall())


def date_range(con: duckdb.DuckDBPyConnection, spec: DatasetSpec) -> tuple[dt.date | None, dt.date | None]:
    """First and last example day of the split table."""
    return con.execute(f"SELECT min(example_date), max(example_date) FROM splits.{spec.name}").fetchone()
