-- The rows of a published split file the twin learns from or is tested on, with the holdout flag: a
-- hash of the person, so a person's rows are all members (the twin learns from them) or all held out.
SELECT
    example_id,
    group_key,
    {select},
    (md5_number($salt || '|' || group_key) % 1000000) / 1000000.0 < $holdout AS holdout
FROM read_parquet($path)
ORDER BY example_id
