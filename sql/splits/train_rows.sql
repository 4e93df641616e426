-- The training examples the balanced variant starts from.
SELECT s.example_id, e.label, {select}
FROM {split_table} s
JOIN {source} e ON e.{id_column}::VARCHAR = s.example_id
WHERE s.split = 'train'
ORDER BY s.example_id
