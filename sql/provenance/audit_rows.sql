SELECT invalidation_id, table_name, rows_before, rows_after FROM provenance.invalidation_audit
ORDER BY invalidation_id, table_name
