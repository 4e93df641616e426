SELECT count(*) FROM labels.review_examples WHERE review_id IN (SELECT event_id FROM impact_events)
