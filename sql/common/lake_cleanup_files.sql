-- Delete every data and delete file that no remaining snapshot reads (erasure: 3 of 3; maintenance).
CALL ducklake_cleanup_old_files('lake', cleanup_all => TRUE)
