SELECT count(*) FROM privacy.rejected_requests WHERE received_at = $at
