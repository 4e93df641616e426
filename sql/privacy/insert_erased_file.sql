INSERT INTO privacy.erased_files VALUES ($request_id, $location, $action, $sha256_before, $sha256_after,
                                         $lines_removed, $processed_at)
