-- Record a landed file version with its accounting (computed from its parsed lines; the lines of erased
-- subjects were dropped before they were stored: their count is $erased_subject).
INSERT INTO raw.files
SELECT $file_id, $source_file, $file_sha256, $size_bytes, $mtime, $compressed, $lines,
       count(*) FILTER (WHERE reason IS NULL),
       count(*) FILTER (WHERE reason IS NOT NULL),
       coalesce(list(DISTINCT partition_date ORDER BY partition_date), []::DATE[]),
       'current', $landed_at, $run_id, NULL, NULL, $erased_subject
FROM raw.landed_lines
WHERE file_id = $file_id
