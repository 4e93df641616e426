-- Rewrite every data file whose share of deleted rows is above $delete_threshold without those rows (a DELETE
-- only writes a delete file beside the data file, whose bytes still hold the rows). Erasure: 0, every file with
-- a deleted row (1 of 3, before lake_expire_snapshots.sql and lake_cleanup_files.sql); maintenance: a share.
CALL ducklake_rewrite_data_files('lake', delete_threshold => $delete_threshold)
