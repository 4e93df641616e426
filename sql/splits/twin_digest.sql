-- The md5 of every row of a twin file, in example order: the content its version id hashes.
SELECT md5(string_agg({row_text}, chr(10) ORDER BY example_id)) FROM read_parquet($path)
