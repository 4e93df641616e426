-- Every delivered copy of the event (duplicates included), oldest first.
SELECT source_file, source_line, file_sha256, run_id FROM raw.events
WHERE event_id = $id ORDER BY ingested_at, source_file
