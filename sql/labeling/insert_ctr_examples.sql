-- Impressions of [start_day, end_day) with their point-in-time features and their label, every day in
-- one pass, written once into labels.ctr_examples (no staging copy). History features count the events
-- of the same person (item) strictly before the impression and at most 7 days earlier: ts in
-- [t - 7 days, t). Each day's label comes from the clicks staged for it (ctr_attribution.run_day) and its
-- maturity from the data seen up to the end of its lookahead day, as a run of that day alone would build them.
-- The 7-day count of an impression at t on day D is computed without a 7-day frame over every event:
--   (the events of days D - 7 .. D - 1: per-day counts, summed)
--   - (the events of day D - 7 before t - 7 days) + (the events of day D before t)
-- the last two as one running sum over day D's events (+1 at ts) and day D - 7's (-1 at ts + 7 days).
-- So a day sorts two days of events, not eight, whatever history the warehouse holds. The impressions
-- ride through those two sorts with the columns of their example, so nothing is joined back by event id.
INSERT INTO labels.ctr_examples
WITH activity AS NOT MATERIALIZED (  -- read where it is used: a scan is cheaper than a copy of every event
    SELECT event_type, ts, event_date, person_key, item_id
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

signed AS (  -- day D's events counted at ts (an impression with its example's columns), day D - 7's taken back
    SELECT event_type, ts AS moment, event_date AS day, 1 AS sign, person_key, item_id,
           event_id, impression_id, category, position, price_eur, device, country, predicted_ctr, model_version,
           source_file, source_line
    FROM clean.events
    WHERE event_type IN ('impression', 'click') AND event_date >= $start_day AND event_date < $end_day
    UNION ALL
    SELECT event_type, ts + INTERVAL 7 DAY, (event_date + 7)::DATE, -1, person_key, item_id,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM activity
    WHERE event_date < $end_day - INTERVAL 7 DAY
),

within_days AS (
    SELECT * EXCLUDE (event_type, sign),
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

repeats AS (  -- per impression_id and day seen more than once: the first (ts, then event_id) makes the example
    SELECT impression_id, event_date, arg_min(event_id, (ts, event_id)) AS first_event_id
    FROM clean.events
    WHERE event_type = 'impression' AND event_date >= $start_day AND event_date < $end_day
    GROUP BY impression_id, event_date
    HAVING count(*) > 1
),

impressions AS (
    SELECT w.*,
           (coalesce(p.impressions, 0) + w.user_impressions)::BIGINT AS user_impressions_7d,
           (coalesce(p.clicks, 0) + w.user_clicks)::BIGINT AS user_clicks_7d,
           (coalesce(i.impressions, 0) + w.item_impressions)::BIGINT AS item_impressions_7d,
           (coalesce(i.clicks, 0) + w.item_clicks)::BIGINT AS item_clicks_7d
    FROM within_days w
    ANTI JOIN repeats r
        ON r.impression_id IS NOT DISTINCT FROM w.impression_id AND r.event_date = w.day
       AND r.first_event_id <> w.event_id
    LEFT JOIN person_week p ON p.person_key IS NOT DISTINCT FROM w.person_key AND p.event_date = w.day
    LEFT JOIN item_week i ON i.item_id IS NOT DISTINCT FROM w.item_id AND i.event_date = w.day
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
    i.impression_id, i.day AS event_date, i.moment AS impression_ts,
    i.person_key, i.item_id, i.category, i.position,
    CASE WHEN i.position = 1 THEN '1' WHEN i.position <= 3 THEN '2-3' WHEN i.position <= 10 THEN '4-10'
         ELSE '11+' END AS position_bucket,
    i.price_eur, i.device, i.country,
    hour(i.moment)::INTEGER AS hour_of_day, isodow(i.moment)::INTEGER AS day_of_week,
    i.user_impressions_7d, i.user_clicks_7d, i.item_impressions_7d, i.item_clicks_7d,
    i.predicted_ctr, i.model_version,
    CASE WHEN f.delay_s BETWEEN 0 AND $window_s THEN 1 ELSE 0 END AS label,
    CASE WHEN i.moment + to_seconds($window_s) <= s.data_seen_until THEN 'mature' ELSE 'provisional' END
        AS label_status,
    CASE WHEN f.delay_s BETWEEN 0 AND $window_s THEN f.click_event_id END AS click_event_id,
    CASE WHEN f.delay_s BETWEEN 0 AND $window_s THEN f.delay_s END AS click_delay_s,
    coalesce(f.clicks_on_impression, 0) AS clicks_on_impression,
    $window_s::INTEGER AS attribution_window_s, s.data_seen_until,
    i.event_id AS impression_event_id, i.source_file, i.source_line,
    now() AS labeled_at, $run_id AS label_run_id
FROM impressions i
LEFT JOIN first_clicks f ON f.run_day = i.day AND f.impression_id = i.impression_id
JOIN seen s ON s.event_date = i.day
