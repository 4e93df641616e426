SELECT coalesce(max(invalidation_id), 0) + 1 FROM provenance.invalidations
