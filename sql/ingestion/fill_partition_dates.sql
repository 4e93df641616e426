-- Lines without a usable ts go to the earliest event day of their file (else the file's mtime day): the
-- first day of its raw.files.partitions, which register_file.sql computed with them. Run in its own
-- transaction once the file's landing committed (an UPDATE inside that transaction, on rows DuckDB had
-- already written to the database file, made it log every landed row to the WAL at commit), and at the
-- start of each landing for the lines a crash left undated in between. Files in [$first_file_id, $last_file_id].
UPDATE raw.landed_lines AS l
SET partition_date = list_min(f.partitions)
FROM raw.files AS f
WHERE
    l.file_id = f.file_id
    AND l.partition_date IS NULL
    AND l.file_id BETWEEN $first_file_id AND $last_file_id
