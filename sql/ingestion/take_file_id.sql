-- Take a file_id: the counter row now holds it (see create_tables.sql).
UPDATE raw.file_id_counter SET last_file_id = $file_id
