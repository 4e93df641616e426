-- Features and label of at most n training examples, for the signal report: the n train examples whose ids
-- hash lowest (the same rows whatever the tables' physical order, and n of them whenever train has n), in
-- example_id order (the report draws its folds by row position). A sample of the join before the train
-- filter read fewer rows than n and moved with the physical order.
SELECT {select}, s.label AS __label
FROM (
    SELECT example_id, label
    FROM {split_table}
    WHERE split = 'train'
    ORDER BY hash(example_id), example_id
    LIMIT {n}
) AS s
INNER JOIN {source} AS e ON e.{id_column}::VARCHAR = s.example_id
ORDER BY s.example_id
