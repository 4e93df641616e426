SELECT schema_name, table_name FROM duckdb_tables()
