-- Every table that names landing lines with their file's hash (source_file, source_line, file_sha256).
SELECT schema_name || '.' || table_name
FROM duckdb_columns()
WHERE column_name IN ('source_file', 'source_line', 'file_sha256') AND NOT internal
GROUP BY schema_name, table_name
HAVING count(*) = 3
ORDER BY schema_name || '.' || table_name
