SELECT count(*) FROM splits.review_examples WHERE example_id IN (SELECT event_id FROM impact_events)
