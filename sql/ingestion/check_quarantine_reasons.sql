-- Quarantine rows in [start_day, end_day) whose reason is not a contract reason code, or that lost
-- their provenance.
SELECT reason, count(*) AS n
FROM raw.quarantine
WHERE partition_date >= $start_day AND partition_date < $end_day
  AND (reason NOT IN {reasons} OR reason IS NULL OR source_file IS NULL OR source_line IS NULL)
GROUP BY reason
