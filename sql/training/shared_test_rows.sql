-- The test examples of a version whose person is in the test split of the previous version too: the
-- rows both versions' models are scored on, for a paired comparison.
SELECT
    {select},
    coalesce(n.group_key, n.example_id) AS person
FROM read_parquet($new_test) AS n
WHERE
    n.{label} IS NOT NULL
    AND coalesce(n.group_key, n.example_id) IN (
        SELECT coalesce(o.group_key, o.example_id) FROM read_parquet($old_test) AS o
    )
ORDER BY n.example_id
