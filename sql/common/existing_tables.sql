-- Every table and view of the warehouse (the current database: the file, or the attached lake), as schema
-- and name; temporary tables of the session too.
SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() OR temporary
UNION
SELECT schema_name, view_name FROM duckdb_views()
WHERE NOT internal AND (database_name = current_database() OR temporary)
