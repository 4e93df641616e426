-- Dropped copies of [start_day, end_day) and the copy kept (which may sit on a neighbouring day).
INSERT INTO clean.duplicates
SELECT event_id, event_date, source_file, source_line, file_sha256, kept_source_file, kept_source_line, $run_id
FROM day_duplicates
