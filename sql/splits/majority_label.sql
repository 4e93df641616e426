-- The most frequent label of a split table (the smallest of the tied ones): the "positive" class of the
-- fairness table of a multi-class dataset.
SELECT label FROM {split_table} GROUP BY label ORDER BY count(*) DESC, label LIMIT 1
