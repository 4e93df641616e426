SELECT app_version, rule, round(max(median_ratio), 1) AS median_ratio, max(events) AS events,
       min(event_date)::VARCHAR AS first_day
FROM clean.unit_corrections
WHERE event_date >= $start_day AND event_date < $end_day
GROUP BY app_version, rule ORDER BY app_version
