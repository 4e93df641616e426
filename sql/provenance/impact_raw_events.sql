SELECT count(*) FROM raw.events WHERE event_id IN (SELECT event_id FROM impact_events)
