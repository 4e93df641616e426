-- Every export version written.
CREATE SCHEMA IF NOT EXISTS splits;
CREATE TABLE IF NOT EXISTS splits.exports (
    dataset VARCHAR, version VARCHAR, path VARCHAR, examples BIGINT, previous_version VARCHAR,
    created_at TIMESTAMPTZ DEFAULT current_timestamp, run_id VARCHAR
);
