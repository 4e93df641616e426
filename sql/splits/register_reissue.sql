-- A version re-issued after an erasure request takes the old version's place in the registry (its previous
-- version, when and by which run it was published), unless that content is registered already.
INSERT INTO splits.exports (dataset, version, path, examples, previous_version, created_at, run_id)
SELECT dataset, $new_version, $path, $examples, previous_version, created_at, run_id
FROM splits.exports
WHERE dataset = $dataset AND version = $old_version AND $new_version NOT IN (
    SELECT e.version FROM splits.exports AS e WHERE e.dataset = $dataset
)
