-- Every export version written.
CREATE SCHEMA IF NOT EXISTS splits;
CREATE TABLE IF NOT EXISTS splits.exports (
    dataset VARCHAR, version VARCHAR, path VARCHAR, examples BIGINT, previous_version VARCHAR,
    created_at TIMESTAMPTZ DEFAULT current_timestamp, run_id VARCHAR
);
CREATE SCHEMA IF NOT EXISTS monitoring;
CREATE TABLE IF NOT EXISTS monitoring.anomalies (
    day DATE, table_name VARCHAR, kind VARCHAR, feature VARCHAR, severity VARCHAR, value DOUBLE,
    detail VARCHAR, run_id VARCHAR
);
