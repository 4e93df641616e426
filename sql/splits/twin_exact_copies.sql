-- sqlfluff:templater:placeholder:same:t.a_column IS NOT DISTINCT FROM r.a_column
-- Synthetic rows equal to a real row in every modelled column (NULL equal to NULL).
SELECT count(*) AS copies
FROM read_parquet($twin) AS t
WHERE EXISTS (SELECT 1 FROM read_parquet($real) AS r WHERE {same})
