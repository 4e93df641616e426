-- Features and label of (a reservoir sample of at most n) training examples, for the signal report.
SELECT {select}, s.label AS __label
FROM {split_table} s
JOIN {source} e ON e.{id_column}::VARCHAR = s.example_id
WHERE s.split = 'train'
USING SAMPLE RESERVOIR ({n} ROWS) REPEATABLE (7)
