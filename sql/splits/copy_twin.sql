-- The twin's rows (registered as twin_rows) to Parquet, typed like the real export, marked synthetic in
-- a column and in the file's key-value metadata (COPY takes its target as text: the path is written by code).
COPY (
    SELECT example_id, group_key, {select}, TRUE AS is_synthetic
    FROM twin_rows
    ORDER BY example_id
) TO '{path}' (FORMAT parquet, COMPRESSION zstd, KV_METADATA {{synthetic: 'true'}})  -- noqa: PRS
