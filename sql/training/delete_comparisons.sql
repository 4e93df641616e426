-- A version's comparison with the previous one before it is written again.
DELETE FROM training.version_comparisons WHERE dataset = $dataset AND version = $version
