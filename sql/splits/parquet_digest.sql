-- The md5 of every row of one split file, in example order (as splits/split_digest.sql for the split table).
SELECT md5(string_agg({row_text}, chr(10) ORDER BY example_id)) FROM read_parquet('{path}')
