-- The erasure request a version was re-issued after (splits.export_reissues), if it was.
SELECT request_id FROM splits.export_reissues
WHERE dataset = $dataset AND new_version = $version
ORDER BY reissued_at DESC
LIMIT 1
