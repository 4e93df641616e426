-- Rows of clean.events in [start_day, end_day) that break the clean layer's promises.
SELECT
    count(*) AS rows_checked,
    count(*) - count(DISTINCT event_id) AS duplicate_event_ids,
    count(*) FILTER (WHERE event_id IS NULL OR event_type IS NULL OR ts IS NULL OR anon_id IS NULL
                        OR person_key IS NULL) AS missing_required,
    -- a price without a finite EUR value (a currency without a price needs no conversion)
    count(*) FILTER (WHERE price_raw IS NOT NULL AND (price_eur IS NULL OR NOT isfinite(price_eur)))
        AS price_not_converted,
    count(*) FILTER (WHERE ruleset_version IS DISTINCT FROM $ruleset_version) AS wrong_ruleset_version,
    count(*) FILTER (WHERE source_file IS NULL OR source_line IS NULL) AS missing_provenance
FROM clean.events
WHERE event_date >= $start_day AND event_date < $end_day
