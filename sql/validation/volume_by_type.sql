-- Rows per day and event type over [start_day - 7, end_day): the days to judge and their baseline.
SELECT event_date AS day, event_type, count(*) AS rows
FROM raw.events
WHERE event_date >= $start_day - INTERVAL 7 DAY AND event_date < $end_day
GROUP BY ALL
ORDER BY ALL
