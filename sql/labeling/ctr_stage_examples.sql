-- Impressions of [start_day, end_day) with their point-in-time features and their label, every day in
-- one pass. History features count only events strictly before the impression (RANGE frame ending 1 µs
-- earlier) within 7 days, so nothing logged at or after the impression leaks into its features. Each
-- day's label comes from the clicks staged for it (ctr_attribution.run_day) and its maturity from the
-- data seen up to the end of its lookahead day, as a run of that day alone would build them.
CREATE OR REPLACE TEMP TABLE ctr_staged_examples AS
WITH activity AS (
    SELECT event_id, event_type, ts, event_date, person_key, item_id
    FROM clean.events
    WHERE event_type IN ('impression', 'click')
      AND event_date >= $start_day - INTERVAL 7 DAY AND event_date < $end_day
),

history AS (
    SELECT event_id,
        count(*) FILTER (WHERE event_type = 'impression') OVER by_person AS user_impressions_7d,
        count(*) FILTER (WHERE event_type = 'click') OVER by_person AS user_clicks_7d,
        count(*) FILTER (WHERE event_type = 'impression') OVER by_item AS item_impressions_7d,
        count(*) FILTER (WHERE event_type = 'click') OVER by_item AS item_clicks_7d
    FROM activity
    WINDOW
        by_person AS (PARTITION BY person_key ORDER BY ts
                      RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING),
        by_item AS (PARTITION BY item_id ORDER BY ts
                    RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING)
    QUALIFY event_type = 'impression' AND event_date >= $start_day
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
    FROM (SELECT DISTINCT event_date FROM impressions) d
    JOIN seen_by_date s ON s.event_date IN (d.event_date, d.event_date + 1)
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
