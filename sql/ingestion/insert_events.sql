-- Cut the accepted lines of [start_day, end_day) from the parse store (file provenance from raw.files).
INSERT INTO raw.events ({event_column_names})
-- (noqa AL05 below: the fragment reads f, sqlfluff sees only its placeholder)
SELECT {event_select}
FROM raw.landed_lines l JOIN raw.files f USING (file_id)  -- noqa: AL05
WHERE l.reason IS NULL AND l.partition_date >= $start_day AND l.partition_date < $end_day
