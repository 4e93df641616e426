-- Record a landed file version with its accounting (computed from its parsed lines; the lines of erased
-- subjects were dropped before they were stored: their count is $erased_subject). Its partitions include
-- the day of its lines without a usable ts: the earliest event day of the file, else $fallback_day (its
-- mtime's day); fill_partition_dates.sql writes that day onto those lines after the landing commits.
INSERT INTO raw.files
SELECT $file_id, $source_file, $file_sha256, $size_bytes, $mtime, $compressed, $lines,
       count(*) FILTER (WHERE l.reason IS NULL),
       count(*) FILTER (WHERE l.reason IS NOT NULL),
       coalesce(list(DISTINCT l.day ORDER BY l.day), []::DATE[]),
       'current', $landed_at, $run_id, NULL, NULL, $erased_subject
FROM (
    SELECT line.reason, coalesce(line.partition_date, u.undated_day) AS day
    FROM raw.landed_lines AS line,
        (
            SELECT coalesce(min(partition_date), $fallback_day::DATE) AS undated_day
            FROM raw.landed_lines WHERE file_id = $file_id
        ) AS u
    WHERE line.file_id = $file_id
) AS l
