-- Lake maintenance: expire the snapshots $versions (lake_expirable_snapshots.sql): time travel to them ends, and
-- the files only they read are scheduled for deletion (lake_cleanup_files.sql deletes them).
CALL ducklake_expire_snapshots('lake', versions => $versions)
