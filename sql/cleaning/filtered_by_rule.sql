SELECT rule_id || '@' || rule_version AS rule_id, count(*) AS n
FROM clean.filtered_events
WHERE event_date >= $start_day AND event_date < $end_day
GROUP BY 1 ORDER BY 1
