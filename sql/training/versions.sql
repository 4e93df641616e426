-- Every published version (its latest registration), oldest first, with the version it replaced and
-- whether the current baseline code has trained on it.
SELECT
    e.dataset,
    e.version,
    e.path,
    e.previous_version,
    e.created_at,
    exists(
        SELECT 1 FROM training.model_runs AS r
        WHERE r.dataset = e.dataset AND r.version = e.version AND r.code_version = $code_version
    ) AS trained
FROM splits.exports AS e
QUALIFY row_number() OVER (PARTITION BY e.dataset, e.version ORDER BY e.created_at DESC) = 1
ORDER BY e.dataset, e.created_at
