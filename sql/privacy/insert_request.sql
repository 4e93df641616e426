INSERT INTO privacy.requests VALUES ($request_id, $kind, $subject_kind, $requested_ts, $received_at,
                                     $source_file, $source_line, $status, $processed_at)
