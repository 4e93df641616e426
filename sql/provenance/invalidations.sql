SELECT invalidation_id, kind, value, reason, who, created_at, status, applied_at
FROM provenance.invalidations ORDER BY invalidation_id
