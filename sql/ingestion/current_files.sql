-- The current version of every known landing path.
SELECT source_file, file_id, file_sha256, size_bytes, mtime FROM raw.files WHERE status = 'current'
