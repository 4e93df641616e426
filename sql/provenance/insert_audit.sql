INSERT INTO provenance.invalidation_audit VALUES ($id, $table_name, $before, $after, now())
