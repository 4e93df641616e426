-- Every synthetic twin version published (a twin that fails its privacy check is never published).
CREATE SCHEMA IF NOT EXISTS splits;
CREATE TABLE IF NOT EXISTS splits.twins (
    dataset VARCHAR, version VARCHAR, path VARCHAR, source_version VARCHAR, examples BIGINT, persons BIGINT,
    created_at TIMESTAMPTZ DEFAULT current_timestamp, run_id VARCHAR
);
