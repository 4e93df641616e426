-- One failed landing of a file version (the file's parse was rolled back).
INSERT INTO raw.file_failures VALUES ($source_file, $size_bytes, $mtime, $failed_at, $run_id, $error)
