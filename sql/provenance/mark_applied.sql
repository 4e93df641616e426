UPDATE provenance.invalidations SET status = $status, applied_at = now() WHERE invalidation_id = $id
