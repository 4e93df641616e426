-- Train rows as they are, plus the synthetic rows registered as synthetic_rows.
CREATE OR REPLACE TABLE splits.ctr_examples_train_balanced AS
SELECT s.example_id, FALSE AS is_synthetic, NULL::VARCHAR AS parent_id, NULL::VARCHAR AS neighbour_id,
       e.label::BIGINT AS label, {numeric}, {categorical}
FROM {split_table} s
JOIN {source} e ON e.{id_column}::VARCHAR = s.example_id
WHERE s.split = 'train'
UNION ALL BY NAME
SELECT * FROM synthetic_rows
