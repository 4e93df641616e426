-- The current files whose lines fall on [start_day, end_day), for the raw/files metadata.
SELECT f.source_file, f.lines, f.accepted, f.quarantined, f.compressed, f.landed_at,
       count(*) AS lines_on_these_days
FROM raw.files f JOIN raw.landed_lines l USING (file_id)
WHERE f.status = 'current' AND l.partition_date >= $start_day AND l.partition_date < $end_day
GROUP BY ALL
ORDER BY f.source_file
