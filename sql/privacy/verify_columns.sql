-- Every warehouse table (not views: they read tables) with its columns and their types, but the ones in $skip.
SELECT
    c.schema_name,
    c.table_name,
    list(c.column_name ORDER BY c.column_index) AS column_names,
    list(c.data_type ORDER BY c.column_index) AS column_types,
    any_value(t.estimated_size) AS estimated_rows
FROM duckdb_columns() AS c
INNER JOIN duckdb_tables() AS t ON c.table_oid = t.table_oid
WHERE
    NOT c.internal AND NOT t.temporary
    AND NOT list_contains($skip, c.schema_name || '.' || c.table_name)
GROUP BY c.schema_name, c.table_name
ORDER BY c.schema_name, c.table_name
