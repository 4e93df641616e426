-- The oldest lake snapshot that can still be read (time travel).
SELECT min(snapshot_id) FROM ducklake_snapshots('lake')
