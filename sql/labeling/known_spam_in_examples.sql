-- Labeled reviews that a spam rule's definition matches (the rule's SQL reads the view day_events).
SELECT DISTINCT e.review_id
FROM ({rule_sql}) h JOIN labels.review_examples e ON e.review_id = h.event_id
ORDER BY 1
