-- Landing failures per file version (path, size, mtime): how many, and the latest error.
SELECT source_file, size_bytes, mtime, count(*) AS attempts, arg_max(error, failed_at) AS last_error
FROM raw.file_failures
GROUP BY source_file, size_bytes, mtime
