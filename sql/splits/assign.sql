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
WITH source AS (
    SELECT * FROM {source} WHERE {where}
),

examples AS (
    SELECT x.{id_column}::VARCHAR AS example_id, coalesce(m.person_key, x.{group_column}) AS group_key,
           ev.anon_id AS device_key, x.{label_column}::VARCHAR AS label, x.{date_column} AS example_date
    FROM source x
    LEFT JOIN clean.events ev ON ev.event_id = x.{event_id_column}
    LEFT JOIN clean.identity_map m ON m.anon_id = ev.anon_id
),

clustered AS (
    SELECT e.*, coalesce(c.cluster_key, e.group_key, e.example_id) AS cluster_key
    FROM examples e
    LEFT JOIN {clusters} c ON c.unit_key = coalesce(e.group_key, e.example_id)
),

buckets AS (  -- one md5 per group, not per example (md5_number cost 5 CPU s for 1.3M examples)
    SELECT cluster_key, (md5_number($salt || '|' || cluster_key) % 1000000) / 1000000.0 AS bucket
    FROM (SELECT DISTINCT cluster_key FROM clustered)
),

bucketed AS (
    SELECT c.*, b.bucket
    FROM clustered c
    LEFT JOIN buckets b USING (cluster_key)
),

days AS (
    SELECT example_date, (row_number() OVER (ORDER BY example_date) - 1) / count(*) OVER () AS day_rank
    FROM (SELECT DISTINCT example_date FROM examples)
)

SELECT e.example_id, e.group_key, e.cluster_key, e.device_key, e.label, e.example_date, e.bucket,
       CASE WHEN e.bucket < $train THEN 'train' WHEN e.bucket < $train + $dev THEN 'dev' ELSE 'test' END AS split,
       CASE WHEN d.day_rank < $train THEN 'train' WHEN d.day_rank < $train + $dev THEN 'dev' ELSE 'test' END
           AS split_time
FROM bucketed e
JOIN days d USING (example_date)
