-- Synthetic rows whose parent or neighbour is not a training example, or whose id is in dev or test.
SELECT count(*)
FROM splits.ctr_examples_train_balanced b
WHERE b.is_synthetic AND (
    b.parent_id NOT IN (SELECT example_id FROM {split_table} WHERE split = 'train')
    OR b.neighbour_id NOT IN (SELECT example_id FROM {split_table} WHERE split = 'train')
    OR b.example_id IN (SELECT example_id FROM {split_table} WHERE split <> 'train'))
