"""Splits and published datasets: deterministic, stratified, group-aware train/dev/test splits with
leakage checks, versioned Parquet exports with dataset cards, fairness and feature-signal reports, and
a train-only synthetic balancing variant."""
