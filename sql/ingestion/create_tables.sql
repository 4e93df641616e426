-- Tables of the ingestion stage. Column lists come from data_platform/contracts.py.
CREATE SCHEMA IF NOT EXISTS raw;

-- Every version of every landing file ever seen (a changed file with the same name is a new row).
CREATE TABLE IF NOT EXISTS raw.files (
    file_id BIGINT NOT NULL,  -- landing order; the key raw.landed_lines refers to
    source_file VARCHAR NOT NULL,  -- path relative to the landing folder
    file_sha256 VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL,
    mtime TIMESTAMPTZ NOT NULL,
    compressed BOOLEAN NOT NULL,
    lines BIGINT NOT NULL,  -- lines read (including a marker line for an unreadable tail)
    accepted BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    partitions DATE[] NOT NULL,  -- the daily partitions its lines belong to
    status VARCHAR NOT NULL,  -- current | superseded (the same path now holds other bytes)
    landed_at TIMESTAMPTZ NOT NULL,
    landed_run_id VARCHAR NOT NULL,
    superseded_at TIMESTAMPTZ,
    superseded_by VARCHAR,  -- file_sha256 of the content that replaced it
    erased_subject BIGINT NOT NULL DEFAULT 0  -- lines of erased subjects: dropped at landing or erased since
);
-- (warehouses made before erased_subject was counted)
ALTER TABLE raw.files ADD COLUMN IF NOT EXISTS erased_subject BIGINT DEFAULT 0;

-- Every line of every landed file, parsed once and classified; the daily partitions of
-- raw.events and raw.quarantine are cut from here, so re-materializing a day never re-reads files.
CREATE TABLE IF NOT EXISTS raw.landed_lines (
    file_id BIGINT NOT NULL,  -- source_file and file_sha256 are in raw.files
    {landed_columns},
    partition_date DATE,
    reason VARCHAR,  -- NULL: accepted; else a quarantine reason code
    detail VARCHAR,
    raw_line VARCHAR  -- kept for quarantined lines only
);

CREATE TABLE IF NOT EXISTS raw.events (
    {event_columns}
);

CREATE TABLE IF NOT EXISTS raw.quarantine (
    {quarantine_columns}
);

-- Failed landings of a file version (its parse rolled back: out of memory on it, an error in it).
-- After LandingZone.max_file_attempts failures of the same (source_file, size_bytes, mtime) the file
-- is set aside: runs skip it with the reason until new bytes land under its name.
CREATE TABLE IF NOT EXISTS raw.file_failures (
    source_file VARCHAR NOT NULL,
    size_bytes BIGINT NOT NULL,
    mtime TIMESTAMPTZ NOT NULL,
    failed_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR NOT NULL,
    error VARCHAR NOT NULL
);

-- The last file_id handed out, in one row (created with it, so two first runs at once conflict instead of
-- making two rows). A landing takes the next id by updating this row in the file's transaction: two
-- landings committed at once by concurrent runs on the lake conflict, and one is retried (DuckLake has no
-- sequences or unique keys). Ids of a warehouse older than the counter continue after max(raw.files.file_id).
CREATE TABLE IF NOT EXISTS raw.file_id_counter AS SELECT CAST(0 AS BIGINT) AS last_file_id;
