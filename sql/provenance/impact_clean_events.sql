SELECT count(*) FROM clean.events WHERE event_id IN (SELECT event_id FROM impact_events)
