-- Every file the erasure of one request rewrote, deleted or re-issued, with its content hashes.
SELECT
    location,
    action,
    sha256_before,
    sha256_after,
    lines_removed,
    processed_at
FROM privacy.erased_files
WHERE request_id = $request_id
ORDER BY location, processed_at
