-- The file_id of a landing path's current version (NULL: not landed yet).
SELECT max(file_id) FROM raw.files WHERE source_file = $source_file AND status = 'current'
