SELECT accepted, quarantined, partitions FROM raw.files WHERE file_id = $file_id
