-- Inputs declared bad, and what invalidating them did.
CREATE SCHEMA IF NOT EXISTS provenance;

-- kind: source_file (a LIKE pattern over landing paths), app_version, or rule (value rule_id@version).
-- A source_file or app_version invalidation removes the matching events from the clean layer on; a rule
-- invalidation voids that rule version's decisions (the events it removed come back).
CREATE TABLE IF NOT EXISTS provenance.invalidations (
    invalidation_id INTEGER, kind VARCHAR, value VARCHAR, reason VARCHAR, who VARCHAR,
    created_at TIMESTAMPTZ, status VARCHAR, applied_at TIMESTAMPTZ
);

-- Per invalidation and table: rows tracing to the input before and after.
CREATE TABLE IF NOT EXISTS provenance.invalidation_audit (
    invalidation_id INTEGER, table_name VARCHAR, rows_before BIGINT, rows_after BIGINT, recorded_at TIMESTAMPTZ
);

-- The input's events when it was invalidated (raw event ids), for the audit after re-materialization.
CREATE TABLE IF NOT EXISTS provenance.invalidated_events (invalidation_id INTEGER, event_id VARCHAR);
