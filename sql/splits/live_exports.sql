-- Every registered export version, oldest first.
SELECT dataset, version, path FROM splits.exports ORDER BY created_at, dataset
