SELECT dataset, version, path FROM splits.exports ORDER BY dataset, created_at
