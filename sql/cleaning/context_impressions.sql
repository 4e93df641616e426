-- Impressions a click of [start_day, end_day) may come from: those days and the day before. Only the
-- impressions some click of the days names are kept (the click rule asks about no other), so the table
-- is built over the days' clicks, not over every impression of two days.
CREATE OR REPLACE TEMP TABLE context_impressions AS
SELECT DISTINCT i.impression_id
FROM raw.events i
SEMI JOIN (
    SELECT impression_id
    FROM raw.events
    WHERE event_type = 'click' AND event_date >= $start_day AND event_date < $end_day
) c ON c.impression_id = i.impression_id
WHERE i.event_type = 'impression'
  AND i.event_date >= $start_day - INTERVAL 1 DAY AND i.event_date < $end_day
