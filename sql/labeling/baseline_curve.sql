-- The learning curve the training stage measured on the latest published review version: its
-- baseline's dev macro-F1 fitted on 25%, 50% and 100% of train (subsets by person).
SELECT
    r.version,
    r.train_fraction AS fraction,
    r.train_examples,
    r.value AS score
FROM training.model_runs AS r
WHERE
    r.dataset = 'review_examples'
    AND r.model = 'baseline'
    AND r.split = 'dev'
    AND r.metric = 'macro_f1'
    AND r.segment = 'all'
    AND r.value IS NOT NULL
    AND r.version = (
        SELECT e.version FROM splits.exports AS e
        WHERE e.dataset = 'review_examples'
        ORDER BY e.created_at DESC LIMIT 1
    )
ORDER BY r.train_fraction
