INSERT INTO privacy.rejected_requests VALUES ($source_file, $source_line, $reason, $received_at)
