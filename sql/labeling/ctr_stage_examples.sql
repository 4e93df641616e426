-- What the examples of [start_day, end_day) take besides their history, per impression (event_row: its clean.events
-- rowid), staged once for all slices: the first click that labels it (clicks staged for its day in
-- ctr_attribution), and whether it is a repeat of an impression_id already logged that day (the first, by ts
-- then event_id, makes the example; the others are dropped).
CREATE OR REPLACE TEMP TABLE ctr_impression_clicks AS
WITH impressions AS NOT MATERIALIZED (  -- read where it is used: a scan is cheaper than a copy of them
    SELECT rowid AS event_row, impression_id, event_date, ts, event_id
    FROM clean.events
    WHERE event_type = 'impression' AND event_date >= $start_day AND event_date < $end_day
),

first_clicks AS (
    SELECT run_day, impression_id, click_event_id, delay_s,
           count(*) OVER (PARTITION BY run_day, impression_id) AS clicks_on_impression
    FROM ctr_attribution
    WHERE impression_ts IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY run_day, impression_id
                               ORDER BY reason IS NOT NULL, click_ts, click_event_id) = 1
),

candidates AS (  -- (hash of impression_id, day) seen more than once: grouping integers, not every id string
    SELECT hash(impression_id) AS impression_hash, event_date
    FROM impressions
    GROUP BY ALL
    HAVING count(*) > 1
),

repeats AS (  -- per impression_id and day seen more than once: the first (ts, then event_id) makes the example
    SELECT i.impression_id, i.event_date, arg_min(i.event_id, (i.ts, i.event_id)) AS first_event_id
    FROM impressions i
    SEMI JOIN candidates c ON c.impression_hash = hash(i.impression_id) AND c.event_date = i.event_date
    GROUP BY i.impression_id, i.event_date
    HAVING count(*) > 1
)

SELECT i.event_row, coalesce(r.first_event_id <> i.event_id, FALSE) AS repeated,
       f.click_event_id, f.delay_s, f.clicks_on_impression
FROM impressions i
LEFT JOIN first_clicks f ON f.run_day = i.event_date AND f.impression_id = i.impression_id
LEFT JOIN repeats r ON r.impression_id IS NOT DISTINCT FROM i.impression_id AND r.event_date = i.event_date
WHERE f.run_day IS NOT NULL OR r.event_date IS NOT NULL  -- the others have no click and are no repeat
