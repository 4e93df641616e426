-- The examples of an export version that are the erased subject's ({files}: its split files; {subject}: the
-- test on a row x, export/erasure.py).
CREATE OR REPLACE TEMP TABLE erasure_examples AS
SELECT x.example_id FROM read_parquet({files}) AS x WHERE {subject}
