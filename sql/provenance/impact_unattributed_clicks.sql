SELECT count(*) FROM labels.unattributed_clicks WHERE click_event_id IN (SELECT event_id FROM impact_events)
