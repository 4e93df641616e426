-- Erasure on the lake, 3 of 3: delete the data and delete files that no remaining snapshot reads.
CALL ducklake_cleanup_old_files('lake', cleanup_all => TRUE)
