-- The landing sensor's ledger: the current version of every landed path, its stat, its days, and when and
-- by which run it was landed.
SELECT source_file, size_bytes, mtime, partitions, landed_at, landed_run_id FROM raw.files WHERE status = 'current'
