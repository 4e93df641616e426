-- Impressions a click of [start_day, end_day) may come from: those days and the day before.
CREATE OR REPLACE TEMP TABLE context_impressions AS
SELECT DISTINCT impression_id
FROM raw.events
WHERE event_type = 'impression'
  AND event_date >= $start_day - INTERVAL 1 DAY AND event_date < $end_day
