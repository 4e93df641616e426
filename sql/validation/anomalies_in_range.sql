SELECT day, severity, table_name, kind, feature, value, detail
FROM monitoring.anomalies
WHERE day >= $start_day AND day < $end_day
ORDER BY day, CASE severity WHEN 'ERROR' THEN 0 ELSE 1 END, table_name, kind, feature
