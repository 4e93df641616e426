INSERT INTO clean.duplicates
SELECT d.event_id, d.event_date, d.source_file, d.source_line, d.file_sha256,
       k.source_file, k.source_line, $run_id
FROM ranked_events d JOIN ranked_events k ON k.event_id = d.event_id AND k.copy_rank = 1
WHERE d.copy_rank > 1
