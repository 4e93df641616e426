SELECT reason, count(*) AS n
FROM raw.quarantine WHERE partition_date >= $start_day AND partition_date < $end_day
GROUP BY reason ORDER BY n DESC, reason
