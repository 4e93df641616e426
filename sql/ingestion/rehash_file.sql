-- A current landing file rewritten by an erasure: its new bytes, so landing and the sensor take it as landed.
UPDATE raw.files SET file_sha256 = $new_sha256, size_bytes = $size
WHERE file_id = $file_id AND status = 'current'
