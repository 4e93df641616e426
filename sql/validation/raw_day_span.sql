-- The first and the newest day with raw events. History features warm up from the first; the newest
-- is still filling up with late events, so its volume and presence are not judged.
SELECT min(event_date), max(event_date) FROM raw.events
