-- Impressions of [start_day, end_day) with their point-in-time features and their label, every day in
-- one pass. History features count the events of the same person (item) strictly before the impression
-- and at most 7 days earlier: ts in [t - 7 days, t). Each day's label comes from the clicks staged for it
-- (ctr_attribution.run_day) and its maturity from the data seen up to the end of its lookahead day, as a
-- run of that day alone would build them.
-- The 7-day count of an impression at t on day D is computed without a 7-day frame over every event:
--   (the events of days D - 7 .. D - 1: per-day counts, summed)
--   - (the events of day D - 7 before t - 7 days) + (the events of day D before t)
-- the last two as one running sum over day D's events (+1 at ts) and day D - 7's (-1 at ts + 7 days).
-- So a day sorts two days of events, not eight, whatever history the warehouse holds.
-- The examples are written once, straight from this query (no staging copy).
INSERT INTO labels.ctr_examples
WITH activity AS NOT MATERIALIZED (  -- read where it is used: a scan is cheaper than a copy of every event
    SELECT event_id, event_type, ts, event_date, person_key, item_id
    FROM clean.events
    WHERE event_type IN ('impression', 'click')
      AND event_date >= $start_day - INTERVAL 7 DAY AND event_date < $end_day
),

person_days AS (  -- events per person and day
    SELECT person_key, event_date,
           count(*) FILTER (WHERE event_type = 'impression') AS impressions,
           count(*) FILTER (WHERE event_type = 'click') AS clicks
    FROM activity
    GROUP BY ALL
),

item_days AS (  -- events per item and day
    SELECT item_id, event_date,
           count(*) FILTER (WHERE event_type = 'impression') AS impressions,
           count(*) FILTER (WHERE event_type = 'click') AS clicks
    FROM activity
    GROUP BY ALL
),

person_week AS (  -- per person and impression day D: the events of D - 7 .. D - 1
    SELECT person_key, event_date,
           sum(impressions) OVER previous_week AS impressions,
           sum(clicks) OVER previous_week AS clicks
    FROM person_days
    WINDOW previous_week AS (PARTITION BY person_key ORDER BY event_date - DATE '1970-01-01'
                             RANGE BETWEEN 7 PRECEDING AND 1 PRECEDING)
    QUALIFY event_date >= $start_day
),

item_week AS (  -- per item and impression day D: the events of D - 7 .. D - 1
    SELECT item_id, event_date,
           sum(impressions) OVER previous_week AS impressions,
           sum(clicks) OVER previous_week AS clicks
    FROM item_days
    WINDOW previous_week AS (PARTITION BY item_id ORDER BY event_date - DATE '1970-01-01'
                             RANGE BETWEEN 7 PRECEDING AND 1 PRECEDING)
    QUALIFY event_date >= $start_day
),

signed AS (  -- day D's events counted at ts, day D - 7's taken back at ts + 7 days
    SELECT event_id, event_type, ts AS moment, event_date AS day, 1 AS sign, person_key, item_id
    FROM activity
    WHERE event_date >= $start_day
    UNION ALL
    SELECT NULL, event_type, ts + INTERVAL 7 DAY, (event_date + 7)::DATE, -1, person_key, item_id
    FROM activity
    WHERE event_date < $end_day - INTERVAL 7 DAY
),

within_days AS (
    SELECT event_id, day, person_key, item_id,
        coalesce(sum(sign) FILTER (WHERE event_type = 'impression') OVER by_person, 0) AS user_impressions,
        coalesce(sum(sign) FILTER (WHERE event_type = 'click') OVER by_person, 0) AS user_clicks,
        coalesce(sum(sign) FILTER (WHERE event_type = 'impression') OVER by_item, 0) AS item_impressions,
        coalesce(sum(sign) FILTER (WHERE event_type = 'click') OVER by_item, 0) AS item_clicks
    FROM signed
    WINDOW
        by_person AS (PARTITION BY person_key, day ORDER BY moment
                      RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING),
        by_item AS (PARTITION BY item_id, day ORDER BY moment
                    RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING)
    QUALIFY event_type = 'impression' AND sign = 1
),

history AS (
    SELECT w.event_id,
           (coalesce(p.impressions, 0) + w.user_impressions)::BIGINT AS user_impressions_7d,
           (coalesce(p.clicks, 0) + w.user_clicks)::BIGINT AS user_clicks_7d,
           (coalesce(i.impressions, 0) + w.item_impressions)::BIGINT AS item_impressions_7d,
           (coalesce(i.clicks, 0) + w.item_clicks)::BIGINT AS item_clicks_7d
    FROM within_days w
    LEFT JOIN person_week p ON p.person_key IS NOT DISTINCT FROM w.person_key AND p.event_date = w.day
    LEFT JOIN item_week i ON i.item_id IS NOT DISTINCT FROM w.item_id AND i.event_date = w.day
),

firsts AS (  -- one impression per impression_id and day: the first (ts, then event_id); a hash aggregate
    SELECT arg_min(event_id, (ts, event_id)) AS event_id
    FROM clean.events
    WHERE event_type = 'impression' AND event_date >= $start_day AND event_date < $end_day
    GROUP BY impression_id, event_date
),

impressions AS (
    SELECT e.*
    FROM clean.events e
    SEMI JOIN firsts USING (event_id)
    WHERE e.event_type = 'impression' AND e.event_date >= $start_day AND e.event_date < $end_day
),

first_clicks AS (
    SELECT run_day, impression_id, click_event_id, delay_s,
           count(*) OVER (PARTITION BY run_day, impression_id) AS clicks_on_impression
    FROM ctr_attribution
    WHERE impression_ts IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY run_day, impression_id
                               ORDER BY reason IS NOT NULL, click_ts, click_event_id) = 1
),

seen_by_date AS (
    SELECT event_date, max(ts) AS latest
    FROM clean.events
    WHERE event_date >= $start_day AND event_date < $end_day + INTERVAL 1 DAY
    GROUP BY event_date
),

seen AS (  -- day D has seen the data up to the latest event of D and its lookahead day D + 1
    SELECT d.event_date, max(s.latest) AS data_seen_until
    FROM seen_by_date d
    JOIN seen_by_date s ON s.event_date IN (d.event_date, d.event_date + 1)
    WHERE d.event_date < $end_day
    GROUP BY d.event_date
)

SELECT
    i.impression_id, i.event_date, i.ts AS impression_ts,
    i.person_key, i.item_id, i.category, i.position,
    CASE WHEN i.position = 1 THEN '1' WHEN i.position <= 3 THEN '2-3' WHEN i.position <= 10 THEN '4-10'
         ELSE '11+' END AS position_bucket,
    i.price_eur, i.device, i.country,
    hour(i.ts)::INTEGER AS hour_of_day, isodow(i.ts)::INTEGER AS day_of_week,
    h.user_impressions_7d, h.user_clicks_7d, h.item_impressions_7d, h.item_clicks_7d,
    i.predicted_ctr, i.model_version,
    CASE WHEN f.delay_s BETWEEN 0 AND $window_s THEN 1 ELSE 0 END AS label,
    CASE WHEN i.ts + to_seconds($window_s) <= s.data_seen_until THEN 'mature' ELSE 'provisional' END AS label_status,
    CASE WHEN f.delay_s BETWEEN 0 AND $window_s THEN f.click_event_id END AS click_event_id,
    CASE WHEN f.delay_s BETWEEN 0 AND $window_s THEN f.delay_s END AS click_delay_s,
    coalesce(f.clicks_on_impression, 0) AS clicks_on_impression,
    $window_s::INTEGER AS attribution_window_s, s.data_seen_until,
    i.event_id AS impression_event_id, i.source_file, i.source_line,
    now() AS labeled_at, $run_id AS label_run_id
FROM impressions i
JOIN history h USING (event_id)
LEFT JOIN first_clicks f ON f.run_day = i.event_date AND f.impression_id = i.impression_id
JOIN seen s ON s.event_date = i.event_date
