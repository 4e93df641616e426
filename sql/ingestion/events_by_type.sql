SELECT event_type, count(*) AS n
FROM raw.events WHERE event_date >= $start_day AND event_date < $end_day
GROUP BY event_type ORDER BY event_type
