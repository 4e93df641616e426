-- One split of a published version (its Parquet file) with each example's person (the group key) and
-- the person's bucket in [0, 1) (md5 of the salt and the person): the learning curve trains on the
-- persons below 0.25, 0.5 and 1, nested subsets. Examples without a label are left out (and counted).
SELECT
    {select},
    coalesce(group_key, example_id) AS person,
    (md5_number($salt || '|' || coalesce(group_key, example_id)) % 1000000) / 1000000.0 AS person_bucket
FROM read_parquet($file)
WHERE {label} IS NOT NULL
ORDER BY example_id
