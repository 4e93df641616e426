-- Record the key that wrote the pseudonyms of $tables: each day of [start_day, end_day), or the whole table
-- ('*') when the range is NULL. Run after forget_key_use.sql (the rows it replaces).
INSERT INTO privacy.pseudonym_keys
SELECT
    t.table_name,
    coalesce(strftime(d.day, '%Y-%m-%d'), '*') AS part,
    $key_id AS key_id,
    $run_id AS run_id,
    $written_at AS written_at
FROM unnest($tables) AS t (table_name)
CROSS JOIN (
    SELECT unnest(generate_series($start_day::DATE, $end_day::DATE - 1, INTERVAL 1 DAY)) AS day
    WHERE $start_day IS NOT NULL
    UNION ALL
    SELECT NULL AS day WHERE $start_day IS NULL
) AS d
