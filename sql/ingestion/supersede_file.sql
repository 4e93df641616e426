-- The path now holds other bytes: the old version stays on record as superseded.
UPDATE raw.files SET status = 'superseded', superseded_at = $at, superseded_by = $new_sha256
WHERE file_id = $old_file_id
