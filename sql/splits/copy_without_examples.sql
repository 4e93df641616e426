-- A file of an export version without the erased examples (and the synthetic rows made from them), to
-- Parquet in the export's own order (COPY takes its target as text: the paths are written by code).
-- (noqa AL05 below: the test on the erased rows reads x, sqlfluff sees only its placeholder)
COPY (
    SELECT * FROM read_parquet('{source}') AS x  -- noqa: AL05
    WHERE NOT {erased}
    ORDER BY {order_by}
) TO '{path}' (FORMAT parquet, COMPRESSION zstd)
