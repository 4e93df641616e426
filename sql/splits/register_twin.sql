INSERT INTO splits.twins (dataset, version, path, source_version, examples, persons, run_id)
VALUES ($dataset, $version, $path, $source_version, $examples, $persons, $run_id)
