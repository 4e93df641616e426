-- Suspected label errors not yet sent back to raters, the least self-confident first.
SELECT review_id FROM labels.label_issues
WHERE review_id NOT IN (SELECT review_id FROM labels.tasks WHERE selection = 'label_error')
ORDER BY self_confidence, review_id
