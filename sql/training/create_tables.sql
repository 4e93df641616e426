-- The baseline models of the published versions: their figures, and each version against the one before.
CREATE SCHEMA IF NOT EXISTS training;
CREATE TABLE IF NOT EXISTS training.model_runs (
    dataset VARCHAR, version VARCHAR, model VARCHAR, model_spec VARCHAR, code_version VARCHAR,
    train_fraction DOUBLE, train_examples BIGINT, train_persons BIGINT, split VARCHAR, metric VARCHAR,
    segment VARCHAR, value DOUBLE, examples BIGINT, seed BIGINT, trained_at TIMESTAMPTZ, run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS training.version_comparisons (
    dataset VARCHAR, version VARCHAR, previous_version VARCHAR, code_version VARCHAR, metric VARCHAR,
    persons BIGINT, examples BIGINT, previous_value DOUBLE, new_value DOUBLE, delta DOUBLE, ci_low DOUBLE,
    ci_high DOUBLE, resamples BIGINT, seed BIGINT, verdict VARCHAR, run_id VARCHAR
);
