-- The lake snapshot a published version of a dataset was read from (NULL: published on the DuckDB file).
SELECT lake_snapshot FROM splits.exports
WHERE dataset = $dataset AND version = $version AND lake_snapshot IS NOT NULL
ORDER BY created_at DESC
LIMIT 1
