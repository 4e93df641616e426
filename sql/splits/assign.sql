-- Split assignment: a bucket in [0, 1) from the md5 of the salt and the example's group key (so one
-- person is always in one split, and an example keeps its split whatever else changes), cut by the
-- ratios. split_time: the earliest days train, then dev, then test (by the ratios of the days).
-- The group key is the example's person in the *current* identity map (clean.identity_map, a function
-- of every login seen), found through the example's event and its device; the person key stored with
-- the example (the map as of its day) only for an event no longer in clean.events. So all examples of
-- one device, and of every device of one person, share one group whatever day they were cleaned on.
-- The bucket is drawn for the example's cluster ({clusters}: person -> cluster key, for persons joined
-- by near-duplicate texts; see splits/near_duplicates.py), else for its person, else for the example.
-- Written unsorted (a sort of every example is the stage's largest memory need): every reader that
-- needs an order (exports, digests) orders by example_id itself.
CREATE OR REPLACE TABLE {target} AS
-- One pass over the examples: every CTE below is read once (DuckDB materializes a CTE read twice, and at
-- 10M examples that copy spilled to disk and was read back three times). The buckets are drawn once per
-- distinct key of the places a cluster key can come from (the clusters, the current identity map, the
-- person key stored with the example, and the example id of an example without one): a superset of the
-- cluster keys, read from narrow columns instead of from the joined examples.
WITH examples AS (
    SELECT x.{id_column}::VARCHAR AS example_id, coalesce(m.person_key, x.{group_column}) AS group_key,
           ev.anon_id AS device_key, x.{label_column}::VARCHAR AS label, x.{date_column} AS example_date
    FROM (SELECT * FROM {source} WHERE {where}) x
    LEFT JOIN clean.events ev ON ev.event_id = x.{event_id_column}
    LEFT JOIN clean.identity_map m ON m.anon_id = ev.anon_id
),

clustered AS (
    SELECT e.*, coalesce(c.cluster_key, e.group_key, e.example_id) AS cluster_key
    FROM examples e
    LEFT JOIN {clusters} c ON c.unit_key = coalesce(e.group_key, e.example_id)
),

buckets AS (  -- one md5 per key, not per example (md5_number cost 5 CPU s for 1.3M examples)
    SELECT cluster_key, (md5_number($salt || '|' || cluster_key) % 1000000) / 1000000.0 AS bucket
    FROM (
        SELECT cluster_key FROM {clusters}
        UNION
        SELECT person_key FROM clean.identity_map
        UNION
        SELECT {group_column} FROM {source} WHERE {where}
        UNION
        SELECT {id_column}::VARCHAR FROM {source} WHERE ({where}) AND {group_column} IS NULL
    )
    WHERE cluster_key IS NOT NULL
),

days AS (
    SELECT example_date, (row_number() OVER (ORDER BY example_date) - 1) / count(*) OVER () AS day_rank
    FROM (SELECT DISTINCT {date_column} AS example_date FROM {source} WHERE {where})
)

SELECT e.example_id, e.group_key, e.cluster_key, e.device_key, e.label, e.example_date, b.bucket,
       CASE WHEN b.bucket < $train THEN 'train' WHEN b.bucket < $train + $dev THEN 'dev' ELSE 'test' END AS split,
       CASE WHEN d.day_rank < $train THEN 'train' WHEN d.day_rank < $train + $dev THEN 'dev' ELSE 'test' END
           AS split_time
FROM clustered e
LEFT JOIN buckets b USING (cluster_key)
JOIN days d USING (example_date)
