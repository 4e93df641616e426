-- The next file_id: after the counter's and after every id already in raw.files.
SELECT greatest(
    coalesce((SELECT max(last_file_id) FROM raw.file_id_counter), 0),
    coalesce((SELECT max(file_id) FROM raw.files), 0)
) + 1
