-- Clicks whose impression was never logged (on the same day or the day before).
SELECT c.event_id
FROM day_events c
WHERE c.event_type = 'click'
  AND NOT EXISTS (
      SELECT 1 FROM context_impressions i WHERE i.impression_id = c.impression_id
  )
