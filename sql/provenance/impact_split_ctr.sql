SELECT count(*) FROM splits.ctr_examples AS s WHERE s.example_id IN (
    SELECT l.impression_id FROM labels.ctr_examples AS l
    WHERE l.impression_event_id IN (SELECT event_id FROM impact_events)
        OR l.click_event_id IN (SELECT event_id FROM impact_events)
)
