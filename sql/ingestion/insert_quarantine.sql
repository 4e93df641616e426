-- Cut the quarantined lines of [start_day, end_day) from the parse store.
INSERT INTO raw.quarantine ({quarantine_column_names})
SELECT {quarantine_column_names}
FROM raw.landed_lines
WHERE reason IS NOT NULL AND partition_date >= $start_day AND partition_date < $end_day
