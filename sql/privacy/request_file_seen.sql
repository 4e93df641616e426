SELECT count(*) FROM privacy.request_files WHERE source_file = $source_file AND file_sha256 = $file_sha256
