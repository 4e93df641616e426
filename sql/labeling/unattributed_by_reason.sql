SELECT reason, count(*) AS clicks
FROM labels.unattributed_clicks
WHERE owner_date >= $start_day AND owner_date < $end_day
GROUP BY reason ORDER BY reason
