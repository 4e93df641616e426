-- Cut the quarantined lines of [start_day, end_day) from the parse store (file provenance from raw.files).
INSERT INTO raw.quarantine ({quarantine_column_names})
SELECT {quarantine_select}
FROM raw.landed_lines l JOIN raw.files f USING (file_id)
WHERE l.reason IS NOT NULL AND l.partition_date >= $start_day AND l.partition_date < $end_day
