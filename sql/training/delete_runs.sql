-- A version's figures before they are written again (a rerun replaces, never duplicates).
DELETE FROM training.model_runs WHERE dataset = $dataset AND version = $version
