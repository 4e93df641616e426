-- What changed between two export versions (their train, dev and test files).
WITH old AS (
    SELECT example_id, label::VARCHAR AS label, example_date,
           regexp_extract(filename, '([a-z]+)\.parquet$', 1) AS split
    FROM read_parquet({old_files}, filename = TRUE)
),

new AS (
    SELECT example_id, label::VARCHAR AS label, example_date,
           regexp_extract(filename, '([a-z]+)\.parquet$', 1) AS split
    FROM read_parquet({new_files}, filename = TRUE)
)

SELECT
    (SELECT count(*) FROM new WHERE example_id NOT IN (SELECT example_id FROM old)) AS added,
    (SELECT count(*) FROM new WHERE example_id NOT IN (SELECT example_id FROM old)
       AND example_date > (SELECT max(example_date) FROM old)) AS added_new_days,
    (SELECT count(*) FROM old WHERE example_id NOT IN (SELECT example_id FROM new)) AS removed,
    (SELECT count(*) FROM old JOIN new USING (example_id) WHERE old.label IS DISTINCT FROM new.label) AS relabeled,
    (SELECT count(*) FROM old JOIN new USING (example_id) WHERE old.split <> new.split) AS moved,
    (SELECT max(example_date) FROM old) AS old_last_day
