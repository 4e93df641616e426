INSERT INTO privacy.request_files VALUES ($source_file, $file_sha256, $read_at)
