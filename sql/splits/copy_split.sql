-- One split of a dataset to Parquet (COPY takes its target as text: the path is written by code).
COPY (
    SELECT {select}
    FROM {split_table} s
    JOIN {source} e ON e.{id_column}::VARCHAR = s.example_id
    WHERE s.split = $split
    ORDER BY s.example_id
) TO '{path}' (FORMAT parquet, COMPRESSION zstd)
