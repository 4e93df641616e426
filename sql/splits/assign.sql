-- Split assignment: a bucket in [0, 1) from the md5 of the salt and the example's group key (so one
-- person is always in one split, and an example keeps its split whatever else changes), cut by the
-- ratios. split_time: the earliest days train, then dev, then test (by the ratios of the days).
CREATE OR REPLACE TABLE {target} AS
WITH examples AS (
    SELECT {id_column}::VARCHAR AS example_id, {group_column} AS group_key, {label_column}::VARCHAR AS label,
           {date_column} AS example_date,
           (md5_number($salt || '|' || coalesce({group_column}, {id_column}::VARCHAR)) % 1000000) / 1000000.0 AS bucket
    FROM {source}
    WHERE {where}
),
days AS (
    SELECT example_date, (row_number() OVER (ORDER BY example_date) - 1) / count(*) OVER () AS day_rank
    FROM (SELECT DISTINCT example_date FROM examples)
)
SELECT e.example_id, e.group_key, e.label, e.example_date, e.bucket,
       CASE WHEN e.bucket < $train THEN 'train' WHEN e.bucket < $train + $dev THEN 'dev' ELSE 'test' END AS split,
       CASE WHEN d.day_rank < $train THEN 'train' WHEN d.day_rank < $train + $dev THEN 'dev' ELSE 'test' END
           AS split_time
FROM examples e
JOIN days d USING (example_date)
ORDER BY e.example_id
