-- Every export version written.
CREATE SCHEMA IF NOT EXISTS splits;
CREATE TABLE IF NOT EXISTS splits.exports (
    dataset VARCHAR, version VARCHAR, path VARCHAR, examples BIGINT, previous_version VARCHAR,
    created_at TIMESTAMPTZ DEFAULT current_timestamp, run_id VARCHAR
);
-- The lake snapshot the version was read from (NULL on the DuckDB file): `data-platform dataset-version` reads
-- the version back from it (time travel)
ALTER TABLE splits.exports ADD COLUMN IF NOT EXISTS lake_snapshot BIGINT;
-- Versions re-issued after an erasure request: the old version's files are deleted, its registry row is
-- replaced by the new version's (same place in the chain of versions).
CREATE TABLE IF NOT EXISTS splits.export_reissues (
    dataset VARCHAR, old_version VARCHAR, new_version VARCHAR, request_id VARCHAR, examples_removed BIGINT,
    reissued_at TIMESTAMPTZ
);
