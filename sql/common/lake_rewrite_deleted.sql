-- Erasure on the lake, 1 of 3: rewrite every data file that has deleted rows without them (a DELETE only
-- writes a delete file beside the data file, whose bytes still hold the rows).
CALL ducklake_rewrite_data_files('lake', delete_threshold => 0)
