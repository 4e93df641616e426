-- The clicks that may label impressions of [start_day, end_day): those days and the lookahead day,
-- each matched with its impression (impressions of the day before too, so "unknown" means unknown).
CREATE OR REPLACE TEMP TABLE ctr_clicks AS
WITH impressions AS (
    SELECT impression_id, ts AS impression_ts, event_date AS impression_date
    FROM clean.events
    WHERE event_type = 'impression'
      AND event_date >= $start_day - INTERVAL 1 DAY AND event_date < $end_day
    QUALIFY row_number() OVER (PARTITION BY impression_id ORDER BY ts, event_id) = 1
)

SELECT c.event_id AS click_event_id, c.impression_id, c.ts AS click_ts, c.event_date AS click_date,
       i.impression_ts, i.impression_date,
       epoch(c.ts - i.impression_ts) AS delay_s,
       c.source_file, c.source_line
FROM clean.events c
LEFT JOIN impressions i USING (impression_id)
WHERE c.event_type = 'click'
  AND c.event_date >= $start_day AND c.event_date < $end_day + INTERVAL 1 DAY
