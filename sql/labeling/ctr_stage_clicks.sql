-- The clicks that may label impressions of [start_day, end_day), staged once per impression day they
-- can label (run_day): day D looks at the clicks of D and of the lookahead day D + 1, each matched with
-- its impression among those of D - 1 and D (so "unknown" means unknown to that day, as a run of day D
-- alone sees it). A click of day D + 1 is staged twice, for D and for D + 1: one set-based pass gives
-- each day exactly what a run of that day alone would stage.
CREATE OR REPLACE TEMP TABLE ctr_clicks AS
WITH clicks AS (
    SELECT event_id, impression_id, ts, event_date, source_file, source_line
    FROM clean.events
    WHERE event_type = 'click'
      AND event_date >= $start_day AND event_date < $end_day + INTERVAL 1 DAY
),

staged AS (
    SELECT event_date AS run_day, * FROM clicks WHERE event_date < $end_day
    UNION ALL
    SELECT event_date - 1 AS run_day, * FROM clicks WHERE event_date > $start_day
),

clicked AS (  -- the impressions some click names, each under the days that can see it: its own and the next
    SELECT impression_id, ts, event_date, event_id
    FROM clean.events
    WHERE event_type = 'impression'
      AND event_date >= $start_day - INTERVAL 1 DAY AND event_date < $end_day
      AND impression_id IN (SELECT impression_id FROM clicks)
),

visible AS (
    SELECT event_date AS run_day, * FROM clicked WHERE event_date >= $start_day
    UNION ALL
    SELECT event_date + 1 AS run_day, * FROM clicked WHERE event_date + 1 < $end_day
),

impressions AS (  -- the impression a run of day D alone would match: the first of D - 1 and D
    SELECT run_day, impression_id, ts AS impression_ts, event_date AS impression_date
    FROM visible
    QUALIFY row_number() OVER (PARTITION BY run_day, impression_id ORDER BY ts, event_id) = 1
)

SELECT c.run_day, c.event_id AS click_event_id, c.impression_id, c.ts AS click_ts, c.event_date AS click_date,
       i.impression_ts, i.impression_date,
       epoch(c.ts - i.impression_ts) AS delay_s,
       c.source_file, c.source_line
FROM staged c
LEFT JOIN impressions i ON i.impression_id = c.impression_id AND i.run_day = c.run_day
