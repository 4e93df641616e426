SELECT owner_date AS day, reason, count(*) AS clicks
FROM labels.unattributed_clicks
WHERE owner_date >= $start_day AND owner_date < $end_day
GROUP BY owner_date, reason ORDER BY owner_date, reason
