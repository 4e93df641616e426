-- Same bytes, new mtime (e.g. copied again): remember the new stat so it is not hashed again.
UPDATE raw.files SET mtime = $mtime, size_bytes = $size
WHERE source_file = $source_file AND status = 'current'
