-- The stored statistics of one table over [start_day, end_day).
SELECT * FROM monitoring.feature_stats
WHERE table_name = $table_name AND partition_date >= $start_day AND partition_date < $end_day
ORDER BY partition_date, feature
