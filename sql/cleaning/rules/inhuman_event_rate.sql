-- Devices that sustain a rate no person does: at least $min_busy_minutes minutes of the day with
-- $events_per_minute or more events each.
SELECT anon_id
FROM (
    SELECT anon_id, date_trunc('minute', ts) AS minute, count(*) AS n
    FROM day_events
    GROUP BY ALL
)
WHERE n >= $events_per_minute
GROUP BY anon_id
HAVING count(*) >= $min_busy_minutes
