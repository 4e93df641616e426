-- The days holding the input's events (clicks of the day after may point at them, and labels of the
-- day before may have used them: the range is widened by one day on each side).
SELECT min(event_date) - INTERVAL 1 DAY, max(event_date) + INTERVAL 1 DAY
FROM raw.events WHERE event_id IN (SELECT event_id FROM impact_events)
