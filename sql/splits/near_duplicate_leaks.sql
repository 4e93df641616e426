-- Near-duplicate pairs whose two examples sit in different splits, with each side's split, most
-- similar first.
SELECT
    p.example_a,
    a.split AS split_a,
    p.example_b,
    b.split AS split_b,
    p.estimated_jaccard,
    p.jaccard,
    p.text_a,
    p.text_b
FROM {pairs} AS p
INNER JOIN {split_table} AS a ON a.example_id = p.example_a
INNER JOIN {split_table} AS b ON b.example_id = p.example_b
WHERE a.split <> b.split
ORDER BY p.jaccard DESC, p.example_a, p.example_b
