-- Counts of the direct labels and clicks of each day of [start_day, end_day), for the asset metadata and
-- the accounting check: one row per day, each table read once. Run in the step that staged ctr_attribution.
WITH days AS (
    SELECT range::DATE AS day FROM range($start_day::TIMESTAMP, $end_day::TIMESTAMP, INTERVAL 1 DAY)
),

examples AS (
    SELECT event_date AS day, count(*) AS examples, count(DISTINCT impression_id) AS distinct_impressions,
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

impressions AS (
    SELECT event_date AS day, count(DISTINCT impression_id) AS clean_impressions
    FROM clean.events
    WHERE event_type = 'impression' AND event_date >= $start_day AND event_date < $end_day
    GROUP BY event_date
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
       coalesce(x.examples, 0) AS examples, coalesce(x.distinct_impressions, 0) AS distinct_impressions,
       coalesce(i.clean_impressions, 0) AS clean_impressions, coalesce(x.positives, 0) AS positives,
       coalesce(x.provisional, 0) AS provisional, coalesce(x.invalid_rows, 0) AS invalid_rows,
       coalesce(o.clicks_owned, 0) AS clicks_owned, coalesce(u.clicks_unattributed, 0) AS clicks_unattributed
FROM days d
LEFT JOIN examples x USING (day)
LEFT JOIN impressions i USING (day)
LEFT JOIN owned o USING (day)
LEFT JOIN unattributed u USING (day)
ORDER BY d.day
