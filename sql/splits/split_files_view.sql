-- The rows of a version's split files with their split (from the file name), for counts and label shares.
CREATE OR REPLACE TEMP VIEW reissued_rows AS
SELECT
    *,
    regexp_extract(filename, '(train|dev|test)\.parquet$', 1) AS split
FROM read_parquet({files}, filename = TRUE)
