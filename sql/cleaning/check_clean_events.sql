-- Rows of clean.events in [start_day, end_day) that break the clean layer's promises.
-- duplicate_event_ids (rows minus distinct ids) is counted on the ids whose 64-bit hash repeats
-- (common/repeated_key_hashes.sql): a hash seen once is one id on one row and adds nothing, so the exact count
-- needs a table of hashes, not of every id string (at 10M rows that table of strings was the clean step's
-- peak of memory).
WITH day_rows AS NOT MATERIALIZED (
    SELECT * FROM clean.events WHERE event_date >= $start_day AND event_date < $end_day
),

repeated_hashes AS (
    {repeated_key_hashes}
)

SELECT
    count(*) AS rows_checked,
    (SELECT count(*) - count(DISTINCT event_id)
     FROM day_rows AS copies
     WHERE hash(copies.event_id) IN (SELECT key_hash FROM repeated_hashes)) AS duplicate_event_ids,
    count(*) FILTER (WHERE event_id IS NULL OR event_type IS NULL OR ts IS NULL OR anon_id IS NULL
                        OR person_key IS NULL) AS missing_required,
    -- a price without a finite EUR value (a currency without a price needs no conversion)
    count(*) FILTER (WHERE price_raw IS NOT NULL AND (price_eur IS NULL OR NOT isfinite(price_eur)))
        AS price_not_converted,
    count(*) FILTER (WHERE ruleset_version IS DISTINCT FROM $ruleset_version) AS wrong_ruleset_version,
    count(*) FILTER (WHERE source_file IS NULL OR source_line IS NULL) AS missing_provenance
FROM day_rows
