DELETE FROM raw.quarantine WHERE partition_date >= $start_day AND partition_date < $end_day
