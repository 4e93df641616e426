-- Each example's split, label and group attribute (for the fairness table).
SELECT s.split, s.label, e.{attribute}::VARCHAR AS grp
FROM {split_table} s
JOIN {source} e ON e.{id_column}::VARCHAR = s.example_id
