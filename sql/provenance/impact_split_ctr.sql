SELECT count(*) FROM splits.ctr_examples WHERE example_id IN (
    SELECT impression_id FROM labels.ctr_examples
    WHERE impression_event_id IN (SELECT event_id FROM impact_events) OR click_event_id IN (SELECT event_id FROM impact_events))
