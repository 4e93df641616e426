-- Lines without a usable ts go to the earliest event day of their file (else the file's mtime day).
UPDATE raw.landed_lines
SET partition_date = coalesce(
    (SELECT min(partition_date) FROM raw.landed_lines WHERE file_id = $file_id), $fallback_day::DATE)
WHERE file_id = $file_id AND partition_date IS NULL
