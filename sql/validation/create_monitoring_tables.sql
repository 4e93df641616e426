-- Tables of the monitoring stage (monitoring.feature_stats is created by its own file).
CREATE SCHEMA IF NOT EXISTS monitoring;

-- Every comparison made for a day: drift day over day and against the reference window, training vs
-- serving skew; one row per (table, feature, comparison, metric) with its limits and severity.
CREATE TABLE IF NOT EXISTS monitoring.drift (
    day DATE, table_name VARCHAR, feature VARCHAR, comparison VARCHAR, metric VARCHAR, value DOUBLE,
    warn DOUBLE, error DOUBLE, severity VARCHAR, top_movers JSON, note VARCHAR, run_id VARCHAR
);

-- What a person should look at: WARN and ERROR findings of a day (drift, skew, schema, volume).
CREATE TABLE IF NOT EXISTS monitoring.anomalies (
    day DATE, table_name VARCHAR, kind VARCHAR, feature VARCHAR, severity VARCHAR, value DOUBLE,
    detail VARCHAR, run_id VARCHAR
);
