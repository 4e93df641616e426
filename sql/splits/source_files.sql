-- How many landing files the dataset's examples came from.
SELECT count(DISTINCT e.source_file)
FROM {split_table} s JOIN {source} e ON e.{id_column}::VARCHAR = s.example_id
