-- Counts of the direct labels and clicks of each day of [start_day, end_day), for the asset metadata and
-- the accounting check: one row per day. Run in the step that staged ctr_attribution. The distinct impression_ids
-- (of the examples, of the clean impressions) are counted by hash first, then exactly for the few hashes seen
-- twice: the same counts as count(DISTINCT impression_id), without a table of every id string (at 10M
-- impressions that grew 16x for 10x the rows).
WITH days AS (
    SELECT range::DATE AS day FROM range($start_day::TIMESTAMP, $end_day::TIMESTAMP, INTERVAL 1 DAY)
),

examples AS (
    SELECT event_date AS day, count(*) AS examples,
           count(*) FILTER (WHERE label = 1) AS positives,
           count(*) FILTER (WHERE label_status = 'provisional') AS provisional,
           count(*) FILTER (
               WHERE label NOT IN (0, 1) OR label_status NOT IN ('mature', 'provisional')
                  OR (label = 1) <> (click_event_id IS NOT NULL)
                  OR click_delay_s < 0 OR click_delay_s > attribution_window_s
                  OR least(user_impressions_7d, user_clicks_7d, item_impressions_7d, item_clicks_7d) < 0
                  OR predicted_ctr IS NULL OR model_version IS NULL OR person_key IS NULL
           ) AS invalid_rows
    FROM labels.ctr_examples
    WHERE event_date >= $start_day AND event_date < $end_day
    GROUP BY event_date
),

ids AS NOT MATERIALIZED (  -- the impression_ids of the examples and of the clean impressions, per day
    SELECT 'examples' AS source, event_date AS day, impression_id
    FROM labels.ctr_examples
    WHERE event_date >= $start_day AND event_date < $end_day AND impression_id IS NOT NULL
    UNION ALL
    SELECT 'clean', event_date, impression_id
    FROM clean.events
    WHERE event_type = 'impression' AND event_date >= $start_day AND event_date < $end_day
      AND impression_id IS NOT NULL
),

id_hashes AS (  -- grouped by a 64-bit hash first: integers, not every id string (count(DISTINCT) held them all)
    SELECT source, day, hash(impression_id) AS id_hash, count(*) AS n
    FROM ids
    GROUP BY ALL
),

id_hashes_by_day AS (  -- distinct hashes per source and day, and the few hashes seen more than once
    SELECT source, day, count(*) AS distinct_hashes, list(id_hash) FILTER (WHERE n > 1) AS shared
    FROM id_hashes
    GROUP BY ALL
),

shared_id_hashes AS (
    SELECT source, day, unnest(shared) AS id_hash FROM id_hashes_by_day
),

shared_ids AS (  -- a hash seen more than once is a repeated id or distinct ids sharing it: counted exactly
    SELECT i.source, i.day, count(DISTINCT i.impression_id) - count(DISTINCT hash(i.impression_id)) AS extra
    FROM ids i
    SEMI JOIN shared_id_hashes s ON s.source = i.source AND s.day = i.day AND s.id_hash = hash(i.impression_id)
    GROUP BY ALL
),

distinct_ids AS (  -- count(DISTINCT impression_id) per source and day
    SELECT h.source, h.day, h.distinct_hashes + coalesce(s.extra, 0) AS impressions
    FROM id_hashes_by_day h
    LEFT JOIN shared_ids s USING (source, day)
),

owned AS (
    SELECT owner_date AS day, count(*) AS clicks_owned
    FROM ctr_attribution
    WHERE owner_date = run_day
    GROUP BY owner_date
),

unattributed AS (
    SELECT owner_date AS day, count(*) AS clicks_unattributed
    FROM labels.unattributed_clicks
    WHERE owner_date >= $start_day AND owner_date < $end_day
    GROUP BY owner_date
)

SELECT d.day,
       coalesce(x.examples, 0) AS examples, coalesce(e.impressions, 0) AS distinct_impressions,
       coalesce(i.impressions, 0) AS clean_impressions, coalesce(x.positives, 0) AS positives,
       coalesce(x.provisional, 0) AS provisional, coalesce(x.invalid_rows, 0) AS invalid_rows,
       coalesce(o.clicks_owned, 0) AS clicks_owned, coalesce(u.clicks_unattributed, 0) AS clicks_unattributed
FROM days d
LEFT JOIN examples x USING (day)
LEFT JOIN distinct_ids e ON e.source = 'examples' AND e.day = d.day
LEFT JOIN distinct_ids i ON i.source = 'clean' AND i.day = d.day
LEFT JOIN owned o USING (day)
LEFT JOIN unattributed u USING (day)
ORDER BY d.day
