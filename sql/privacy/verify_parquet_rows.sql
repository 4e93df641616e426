-- Rows and columns (with types) of one Parquet file: a typed empty read gives the columns.
SELECT
    (SELECT count(*) FROM read_parquet($path)) AS n,
    list(column_name) AS column_names,
    list(column_type) AS column_types
FROM (DESCRIBE SELECT * FROM read_parquet($path))  -- noqa: PRS
