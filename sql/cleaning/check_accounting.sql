-- Per day: raw rows = clean + filtered + duplicates + excluded by consent.
WITH layer_rows AS (
    SELECT 'raw' AS layer, event_date FROM raw.events
    UNION ALL
    SELECT 'clean' AS layer, event_date FROM clean.events
    UNION ALL
    SELECT 'filtered' AS layer, event_date FROM clean.filtered_events
    UNION ALL
    SELECT 'duplicate' AS layer, event_date FROM clean.duplicates
    UNION ALL
    SELECT 'excluded' AS layer, event_date FROM clean.consent_exclusions
)

SELECT event_date,
       count(*) FILTER (WHERE layer = 'raw') AS raw_rows,
       count(*) FILTER (WHERE layer = 'clean') AS clean_rows,
       count(*) FILTER (WHERE layer = 'filtered') AS filtered_rows,
       count(*) FILTER (WHERE layer = 'duplicate') AS duplicate_rows,
       count(*) FILTER (WHERE layer = 'excluded') AS consent_excluded_rows
FROM layer_rows
WHERE event_date >= $start_day AND event_date < $end_day
GROUP BY event_date
ORDER BY event_date
