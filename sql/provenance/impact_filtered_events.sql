SELECT count(*) FROM clean.filtered_events WHERE event_id IN (SELECT event_id FROM impact_events)
