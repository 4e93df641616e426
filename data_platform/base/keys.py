"""Asset keys that stages depend on across stage lines (keys mirror schema/table)."""

import dagster as dg

RAW_EVENTS = dg.AssetKey(["raw", "events"])
CLEAN_EVENTS = dg.AssetKey(["clean", "events"])
IDENTITY_MAP = dg.AssetKey(["clean", "identity_map"])
CTR_EXAMPLES = dg.AssetKey(["labels", "ctr_examples"])
REVIEW_EXAMPLES = dg.AssetKey(["labels", "review_examples"])
FEATURE_STATS = dg.AssetKey(["monitoring", "feature_stats"])
ANOMALIES = dg.AssetKey(["monitoring", "anomalies"])
MODEL_RUNS = dg.AssetKey(["training", "model_runs"])
