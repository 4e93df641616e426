"""A fast, well-known baseline model per published dataset version, and what it measures.

- **Clicks** (``ctr_examples``): a logistic regression (scikit-learn, L2, lbfgs) over the exported
  features: counts as ``log1p`` then standardized, the price standardized, position bucket, category,
  device, country, hour of day and day of week one-hot (unknown values at scoring: all zeros; missing
  numbers: the train median). The serving model's logged prediction ``predicted_ctr`` and its
  ``model_version`` are *not* features: they are what the baseline is compared against (a baseline
  that reads the serving prediction only re-calibrates it).
- **Reviews** (``review_examples``): TF-IDF of the redacted text (words and word pairs, sublinear term
  frequency) into a multinomial logistic regression. The export has no serving prediction to compare
  against.

Each version's model is fitted on its ``train.parquet`` and scored on ``dev`` and ``test``; the
learning curve refits it on the persons of train whose bucket (md5 of a salt and the person) is below
0.25 and 0.5: nested subsets by person, the same persons every time. Every step is deterministic: the
rows are read in example order, the solvers are deterministic, the bootstrap is seeded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np

if TYPE_CHECKING:
    import polars as pl  # imported in the functions that use it: loading the definitions does not need polars

from data_platform.base.enums import SENTIMENTS
from data_platform.resources import run_sql
from data_platform.splits.split import SPLITS
from data_platform.training import metrics as m

CODE_VERSION = "baseline-1"
FRACTIONS = (0.25, 0.5, 1.0)
SALT = "training-curve-v1"
MIN_TRAIN_EXAMPLES = 20  # below this (or with one class only) a model is not fitted, and the figures say so


@dataclass(frozen=True)
class BaselineSpec:
    """How one dataset's baseline is built and judged."""

    dataset: str
    model_spec: str  # what the model is, in words (the table's model_spec, the card)
    features: tuple[str, ...]  # exported columns the model reads
    label: str
    extra: tuple[str, ...]  # other exported columns the evaluation reads (serving prediction, slices)
    serving: str | None  # the column with the serving model's logged prediction, if any
    headline: tuple[str, ...]  # the metrics of the learning curve and the comparison, the first one primary
    lower_is_better: frozenset[str]
    fit: Callable[[pl.DataFrame, np.ndarray, int], object]
    predict: Callable[[object, pl.DataFrame], np.ndarray]
    figures: Callable[[np.ndarray, np.ndarray, pl.DataFrame, object], dict[tuple[str, str], float]]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(("example_id", *self.features, self.label, *self.extra)))


CLICK_COUNTS = ("user_impressions_7d", "user_clicks_7d", "item_impressions_7d", "item_clicks_7d")
CLICK_NUMERIC = ("position", "price_eur")
CLICK_CATEGORICAL = ("position_bucket", "category", "device", "country", "hour_of_day", "day_of_week")


def _fit_clicks(frame: pl.DataFrame, y: np.ndarray, seed: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    features = ColumnTransformer(
        [
            (
                "counts",
                make_pipeline(SimpleImputer(strategy="median"), FunctionTransformer(np.log1p), StandardScaler()),
                list(CLICK_COUNTS),
            ),
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(CLICK_NUMERIC)),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(CLICK_CATEGORICAL)),
        ]
    )
    model = make_pipeline(features, LogisticRegression(C=1.0, max_iter=1000, random_state=seed))
    return model.fit(_click_frame(frame), y.astype(int))


def _click_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The model's input columns, categoricals as text (hour and weekday are categories to a linear model)."""
    import polars as pl

    return frame.select(
        *[pl.col(c).cast(pl.Float64) for c in (*CLICK_COUNTS, *CLICK_NUMERIC)],
        *[pl.col(c).cast(pl.String).fill_null("missing") for c in CLICK_CATEGORICAL],
    )


def _predict_clicks(model, frame: pl.DataFrame) -> np.ndarray:
    return model.predict_proba(_click_frame(frame))[:, 1]


def click_figures(y: np.ndarray, p: np.ndarray, frame: pl.DataFrame, weights=None) -> dict:
    """AUC, log loss, normalized entropy and calibration (actual/predicted) overall, and calibration by
    category: ``{(metric, segment): value}``."""
    y = y.astype(int)
    out = {
        ("auc", "all"): m.auc(y, p, weights),
        ("log_loss", "all"): m.log_loss(y, p, weights),
        ("normalized_entropy", "all"): m.normalized_entropy(y, p, weights),
        ("calibration", "all"): m.calibration(y, p, weights),
    }
    if weights is None and "category" in frame.columns:
        import polars as pl

        categories = frame["category"].cast(pl.String).fill_null("missing").to_numpy()
        for category in sorted(set(categories)):
            mask = categories == category
            out[("calibration", f"category={category}")] = m.calibration(y[mask], p[mask])
    return out


def _fit_reviews(frame: pl.DataFrame, y: np.ndarray, seed: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(C=10.0, max_iter=1000, random_state=seed),
    )
    return model.fit(_texts(frame), y.astype(str))


def _texts(frame: pl.DataFrame) -> list[str]:
    import polars as pl

    return frame["text"].cast(pl.String).fill_null("").to_list()


def _predict_reviews(model, frame: pl.DataFrame) -> np.ndarray:
    return np.asarray(model.predict(_texts(frame))).astype(str)


def review_figures(y: np.ndarray, predicted: np.ndarray, frame: pl.DataFrame, weights=None) -> dict:
    """Macro-F1 and accuracy overall, recall per class: ``{(metric, segment): value}``."""
    y = y.astype(str)
    out = {
        ("macro_f1", "all"): m.macro_f1(y, predicted, SENTIMENTS, weights),
        ("accuracy", "all"): m.accuracy(y, predicted, weights),
    }
    if weights is None:
        for label, value in m.recall(y, predicted, SENTIMENTS).items():
            out[("recall", f"class={label}")] = value
    return out


CLICKS = BaselineSpec(
    dataset="ctr_examples",
    model_spec="logistic regression (L2, C=1) on log1p counts, position, price, one-hot position bucket, "
    "category, device, country, hour, weekday",
    features=(*CLICK_COUNTS, *CLICK_NUMERIC, *CLICK_CATEGORICAL),
    label="label",
    extra=("predicted_ctr",),
    serving="predicted_ctr",
    headline=("auc", "log_loss", "normalized_entropy"),
    lower_is_better=frozenset({"log_loss", "normalized_entropy"}),
    fit=_fit_clicks,
    predict=_predict_clicks,
    figures=click_figures,
)
REVIEWS = BaselineSpec(
    dataset="review_examples",
    model_spec="TF-IDF of the redacted text (words and word pairs, sublinear tf) into a multinomial "
    "logistic regression (L2, C=10)",
    features=("text",),
    label="label",
    extra=(),
    serving=None,
    headline=("macro_f1", "accuracy"),
    lower_is_better=frozenset(),
    fit=_fit_reviews,
    predict=_predict_reviews,
    figures=review_figures,
)
BASELINES = {spec.dataset: spec for spec in (CLICKS, REVIEWS)}


def read_split(con: duckdb.DuckDBPyConnection, spec: BaselineSpec, path: Path, split: str) -> pl.DataFrame:
    """One split of a version, labeled rows in example order, with ``person`` and ``person_bucket``."""
    return run_sql(
        con,
        "training/split_rows.sql",
        {"file": str(Path(path) / f"{split}.parquet"), "salt": SALT},
        select=", ".join(spec.columns),
        label=spec.label,
    ).pl()


def _labels(spec: BaselineSpec, frame: pl.DataFrame) -> np.ndarray:
    values = frame[spec.label].to_numpy()
    return values.astype(int) if spec.serving else values.astype(str)


def fit(spec: BaselineSpec, train: pl.DataFrame, seed: int):
    """The fitted model, or None when train is too small or has one class (the caller says so)."""
    y = _labels(spec, train)
    if len(y) < MIN_TRAIN_EXAMPLES or len(np.unique(y)) < 2:
        return None
    return spec.fit(train, y, seed)


def score(spec: BaselineSpec, model, frame: pl.DataFrame) -> dict:
    """The figures of ``model`` on ``frame`` (NaN-free: an undefined figure is None)."""
    if model is None or frame.height == 0:
        return _undefined(spec)
    return _clean(spec.figures(_labels(spec, frame), spec.predict(model, frame), frame, None))


def _undefined(spec: BaselineSpec) -> dict:
    """The headline figures as undefined (NULL): no model, or nothing to score it on. Written all the
    same, so the version counts as trained and the table says why its figures are missing."""
    return {(metric, "all"): None for metric in spec.headline}


def score_serving(spec: BaselineSpec, frame: pl.DataFrame) -> dict:
    """The figures of the serving model's logged prediction on the same rows."""
    if spec.serving is None:
        return {}
    if frame.height == 0:
        return _undefined(spec)
    import polars as pl

    logged = frame[spec.serving].cast(pl.Float64).to_numpy()
    keep = np.isfinite(logged)
    return _clean(spec.figures(_labels(spec, frame)[keep], logged[keep], frame.filter(pl.Series(keep)), None))


def _clean(figures: dict) -> dict:
    return {k: (None if v is None or not math.isfinite(v) else float(v)) for k, v in figures.items()}


@dataclass
class VersionResult:
    """What one version's baseline measured."""

    dataset: str
    version: str
    rows: list[dict]  # training.model_runs rows (without run id and time)
    curve: list[dict]  # fraction, train_examples, train_persons, and the headline metrics on dev and test
    notes: list[str]
    unlabeled: int


def train_version(
    con: duckdb.DuckDBPyConnection, spec: BaselineSpec, path: Path, version: str, seed: int
) -> tuple[VersionResult, object]:
    """Fit the baseline on a version's train split (and on its 25% and 50% person subsets), score it on
    dev and test, next to the serving model; returns the result and the full model."""
    frames = {split: read_split(con, spec, path, split) for split in SPLITS}
    files = [str(Path(path) / f"{s}.parquet") for s in SPLITS]
    unlabeled = run_sql(con, "training/unlabeled_rows.sql", {"files": files}, label=spec.label).fetchone()[0]
    rows, curve, notes, full = [], [], [], None
    if unlabeled:
        notes.append(f"{unlabeled} examples without a label left out")
    train = frames["train"]
    import polars as pl

    for fraction in FRACTIONS:
        subset = train if fraction == 1.0 else train.filter(pl.col("person_bucket") < fraction)
        model = fit(spec, subset, seed)
        if model is None:
            notes.append(
                f"{fraction:.0%} of train: {subset.height} examples"
                + (" of one class" if subset.height >= MIN_TRAIN_EXAMPLES else "")
                + ": no model fitted"
            )
        if fraction == 1.0:
            full = model
        point = {"fraction": fraction, "train_examples": subset.height, "train_persons": subset["person"].n_unique()}
        for split in ("dev", "test"):
            figures = score(spec, model, frames[split])
            if fraction == 1.0:
                rows += _rows(spec, "baseline", 1.0, subset, split, figures, frames[split].height, seed)
            else:  # the learning curve keeps the overall figures
                figures = {k: v for k, v in figures.items() if k[1] == "all"}
                rows += _rows(spec, "baseline", fraction, subset, split, figures, frames[split].height, seed)
            for metric in spec.headline:
                point[f"{split}_{metric}"] = figures.get((metric, "all"))
        curve.append(point)
    if spec.serving:
        for split in ("dev", "test"):
            figures = score_serving(spec, frames[split])
            rows += _rows(spec, "serving", None, None, split, figures, frames[split].height, seed)
    return VersionResult(spec.dataset, version, rows, curve, notes, unlabeled), full


def _rows(spec, model, fraction, train, split, figures: dict, examples: int, seed: int) -> list[dict]:
    return [
        {
            "dataset": spec.dataset,
            "model": model,
            "model_spec": spec.model_spec if model == "baseline" else f"the serving model's logged {spec.serving}",
            "code_version": CODE_VERSION,
            "train_fraction": fraction,
            "train_examples": None if train is None else train.height,
            "train_persons": None if train is None else train["person"].n_unique(),
            "split": split,
            "metric": metric,
            "segment": segment,
            "value": value,
            "examples": examples,
            "seed": seed,
        }
        for (metric, segment), value in sorted(figures.items())
    ]


def last_doubling_gain(curve: Sequence[dict], metric: str, split: str = "dev") -> float | None:
    """The headline metric gained from 50% to 100% of train (None when either point is missing)."""
    by_fraction = {p["fraction"]: p.get(f"{split}_{metric}") for p in curve}
    if by_fraction.get(0.5) is None or by_fraction.get(1.0) is None:
        return None
    return by_fraction[1.0] - by_fraction[0.5]


@dataclass
class Comparison:
    """Version N+1 against N on the test persons both versions hold, per headline metric."""

    previous_version: str
    persons: int
    examples: int
    metrics: list[dict]  # metric, previous_value, new_value, delta, ci_low, ci_high, verdict
    resamples: int
    seed: int

    def verdict(self) -> str:
        """The primary metric's verdict."""
        return self.metrics[0]["verdict"] if self.metrics else "not compared"


def compare_versions(
    con: duckdb.DuckDBPyConnection,
    spec: BaselineSpec,
    new_model,
    new_path: Path,
    old_path: Path,
    old_version: str,
    seed: int,
    resamples: int,
    level: float = 0.95,
) -> Comparison | None:
    """Refit the previous version's baseline on its train split (deterministic, so the same model it had)
    and score both models on the new version's test examples of the persons in both test splits; the
    difference new - previous of each headline metric with a bootstrap interval over those persons.
    None when there is nothing to compare (a model missing, no shared person)."""
    old_model = fit(spec, read_split(con, spec, old_path, "train"), seed)
    if new_model is None or old_model is None:
        return None
    shared = run_sql(
        con,
        "training/shared_test_rows.sql",
        {"new_test": str(Path(new_path) / "test.parquet"), "old_test": str(Path(old_path) / "test.parquet")},
        select=", ".join(spec.columns),
        label=spec.label,
    ).pl()
    if shared.height == 0:
        return None
    y = _labels(spec, shared)
    new, old = spec.predict(new_model, shared), spec.predict(old_model, shared)
    persons = shared["person"].to_numpy()
    point_new, point_old = spec.figures(y, new, shared, None), spec.figures(y, old, shared, None)

    def deltas(weights):  # (replicates, headline metrics): new - previous on the same drawn persons
        a, b = spec.figures(y, new, shared, weights), spec.figures(y, old, shared, weights)
        return np.column_stack([np.atleast_1d(a[(k, "all")]) - np.atleast_1d(b[(k, "all")]) for k in spec.headline])

    replicates = m.bootstrap_over_persons(persons, deltas, resamples, seed)
    out = []
    for i, metric in enumerate(spec.headline):
        low, high = m.interval(replicates[:, i], level)
        previous, current = float(point_old[(metric, "all")]), float(point_new[(metric, "all")])
        out.append(
            {
                "metric": metric,
                "previous_value": previous,
                "new_value": current,
                "delta": current - previous,
                "ci_low": low,
                "ci_high": high,
                "verdict": verdict(low, high, metric in spec.lower_is_better),
            }
        )
    return Comparison(old_version, len(np.unique(persons)), shared.height, out, resamples, seed)


def verdict(low: float, high: float, lower_is_better: bool) -> str:
    """``helped`` when the whole interval of new - previous is an improvement, ``hurt`` when it is all
    a loss, else ``no measurable change``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "not measurable"
    gain_low, gain_high = (-high, -low) if lower_is_better else (low, high)
    if gain_low > 0:
        return "helped"
    if gain_high < 0:
        return "hurt"
    return "no measurable change"
