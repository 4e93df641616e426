-- Every table and view of the warehouse, as schema and name.
SELECT schema_name, table_name FROM duckdb_tables()
UNION
SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal
