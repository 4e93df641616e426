-- Privacy requests and what was done about them. No raw ids are kept here: subjects are keyed
-- pseudonyms while a request is effective (consent), and erasure audits keep no subject at all.
CREATE SCHEMA IF NOT EXISTS privacy;
CREATE TABLE IF NOT EXISTS privacy.request_files (source_file VARCHAR, file_sha256 VARCHAR, read_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS privacy.requests (
    request_id VARCHAR, kind VARCHAR, subject_kind VARCHAR, requested_ts TIMESTAMPTZ, received_at TIMESTAMPTZ,
    source_file VARCHAR, source_line BIGINT, status VARCHAR, processed_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS privacy.rejected_requests (
    source_file VARCHAR, source_line BIGINT, reason VARCHAR, received_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS privacy.consent_history (
    subject_kind VARCHAR, subject_pseudonym VARCHAR, status VARCHAR, effective_at TIMESTAMPTZ, request_id VARCHAR
);
CREATE TABLE IF NOT EXISTS privacy.erasure_audit (
    request_id VARCHAR, table_name VARCHAR, rows_removed BIGINT, processed_at TIMESTAMPTZ, run_id VARCHAR
);
-- Every identifier of an erased subject, as a keyed pseudonym (never the raw value): their user id, their
-- devices (anon ids), the IP addresses only their events came from, the e-mail addresses and phone numbers
-- in their texts. The tombstone list landing checks, and what `privacy verify` searches for; key_id names
-- the key that made the pseudonyms.
CREATE TABLE IF NOT EXISTS privacy.erased_identifiers (
    request_id VARCHAR, identifier_kind VARCHAR, pseudonym VARCHAR, key_id VARCHAR, erased_at TIMESTAMPTZ
);
-- Every file outside the warehouse that an erasure rewrote or deleted (landing files, export versions,
-- labeling files, reports): what was done, the content hashes before and after (a hash names no one).
CREATE TABLE IF NOT EXISTS privacy.erased_files (
    request_id VARCHAR, location VARCHAR, action VARCHAR, sha256_before VARCHAR, sha256_after VARCHAR,
    lines_removed BIGINT, processed_at TIMESTAMPTZ
);
-- The key each table's pseudonyms were written with (key_id, never the key), per day of a daily table
-- (part = the day, ISO) or for the whole table (part = '*'): an erasure or a request under another key
-- would miss their rows, so it stops before anything is deleted (docs/privacy.md, key rotation). One row per
-- (table_name, part): record_key_use.sql replaces it (no PRIMARY KEY: DuckLake has none).
CREATE TABLE IF NOT EXISTS privacy.pseudonym_keys (
    table_name VARCHAR NOT NULL, part VARCHAR NOT NULL, key_id VARCHAR NOT NULL, run_id VARCHAR,
    written_at TIMESTAMPTZ
);
