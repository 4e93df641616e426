-- Lake maintenance: delete the files under the data path that the catalog does not know (written by a commit
-- that failed or conflicted, or by a crashed writer), if older than $older_than: a younger one may belong to a
-- writer whose commit is still to come.
CALL ducklake_delete_orphaned_files('lake', older_than => $older_than)
