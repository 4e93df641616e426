-- Rows of raw.events in [start_day, end_day) that break the contract, counted per rule.
-- The parse should have quarantined all of them: a non-zero count means a bug, not bad input.
SELECT
    count(*) AS rows_checked,
    count(*) FILTER (WHERE event_type NOT IN {event_types}) AS unknown_event_type,
    {missing_counts},
    {range_counts},
    count(*) FILTER (WHERE price IS NOT NULL AND currency IS NULL) AS missing_currency,
    count(*) FILTER (WHERE event_date IS DISTINCT FROM CAST(timezone('UTC', ts) AS DATE)) AS event_date_not_ts_day,
    count(*) FILTER (WHERE source_file IS NULL OR source_line IS NULL OR source_line < 1
                        OR file_sha256 IS NULL OR ingested_at IS NULL OR run_id IS NULL) AS missing_provenance
FROM raw.events
WHERE event_date >= $start_day AND event_date < $end_day
