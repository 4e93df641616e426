INSERT INTO privacy.erasure_audit VALUES ($request_id, $table_name, $rows_removed, $processed_at, $run_id)
