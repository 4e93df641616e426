INSERT INTO splits.exports (dataset, version, path, examples, previous_version, run_id)
VALUES ($dataset, $version, $path, $examples, $previous, $run_id)
