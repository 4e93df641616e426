-- Lines of a rewritten landing file keep their number and bytes: they now name the file's new hash.
UPDATE {table} SET file_sha256 = $new_sha256
WHERE source_file = $source_file AND file_sha256 = $old_sha256
