INSERT INTO splits.exports (dataset, version, path, examples, previous_version, run_id, lake_snapshot)
VALUES ($dataset, $version, $path, $examples, $previous, $run_id, $lake_snapshot)
