-- Every export version written.
CREATE SCHEMA IF NOT EXISTS splits;
CREATE TABLE IF NOT EXISTS splits.exports (
    dataset VARCHAR, version VARCHAR, path VARCHAR, examples BIGINT, previous_version VARCHAR,
    created_at TIMESTAMPTZ DEFAULT current_timestamp, run_id VARCHAR
);
-- The lake snapshot the version was read from (NULL on the DuckDB file): `data-platform dataset-version` reads
-- the version back from it (time travel)
ALTER TABLE splits.exports ADD COLUMN IF NOT EXISTS lake_snapshot BIGINT;
