SELECT column_name, data_type FROM duckdb_columns()
WHERE schema_name = $schema AND table_name = $table
ORDER BY column_index
