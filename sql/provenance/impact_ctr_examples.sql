SELECT count(*) FROM labels.ctr_examples
WHERE impression_event_id IN (SELECT event_id FROM impact_events)
    OR click_event_id IN (SELECT event_id FROM impact_events)
