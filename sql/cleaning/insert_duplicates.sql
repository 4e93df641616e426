-- Dropped copies of [start_day, end_day) and the copy kept (which may sit on a neighbouring day).
INSERT INTO clean.duplicates
SELECT d.event_id, d.event_date, d.source_file, d.source_line, d.file_sha256,
       k.source_file AS kept_source_file, k.source_line AS kept_source_line, $run_id
FROM ranked_events d
JOIN LATERAL (
    SELECT source_file, source_line FROM raw.events r
    WHERE r.event_id = d.event_id
      AND r.event_date >= $start_day - INTERVAL 2 DAY AND r.event_date < $end_day + INTERVAL 2 DAY
    ORDER BY ingested_at, source_file, source_line LIMIT 1
) k ON TRUE
WHERE d.copy_rank > 1
