-- Rows of one file of an export version that an erasure takes out ({erased}: the test on a row x).
-- (noqa AL05 below: the test reads x, sqlfluff sees only its placeholder)
SELECT count(*) FROM read_parquet('{path}') AS x  -- noqa: AL05
WHERE {erased}
