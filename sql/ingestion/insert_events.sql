-- Cut the accepted lines of [start_day, end_day) from the parse store.
INSERT INTO raw.events ({event_column_names})
SELECT {event_column_names}
FROM raw.landed_lines
WHERE reason IS NULL AND partition_date >= $start_day AND partition_date < $end_day
