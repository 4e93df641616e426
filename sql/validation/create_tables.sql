-- Monitoring tables of the validation stage. monitoring.feature_stats is a history: one row per
-- (table_name, partition_date, feature); re-profiling a day replaces that day's rows of that table only.
-- The columns are data_platform.validation.STATS_COLUMNS, in that order (a test keeps them in sync).
CREATE SCHEMA IF NOT EXISTS monitoring;
CREATE TABLE IF NOT EXISTS monitoring.feature_stats (
    table_name VARCHAR, partition_date DATE, feature VARCHAR, kind VARCHAR,
    "count" BIGINT, missing BIGINT, zeros BIGINT,
    "min" DOUBLE, "max" DOUBLE, mean DOUBLE, std DOUBLE,
    quantiles DOUBLE[],
    hist_edges DOUBLE[], hist_counts BIGINT[],
    qhist_edges DOUBLE[], qhist_counts BIGINT[],
    distinct_count BIGINT, top_values VARCHAR[], top_counts BIGINT[], other_count BIGINT,
    computed_at TIMESTAMPTZ, run_id VARCHAR
);
