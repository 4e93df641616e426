-- The landing sensor's ledger: the current version of every landed path, its stat and its days.
SELECT source_file, size_bytes, mtime, partitions FROM raw.files WHERE status = 'current'
