-- The confidence of each label source on the gold reviews, and whether its label was right: how far
-- label_confidence can be trusted where no gold exists. Weak labels on gold are held out (the label
-- model is never anchored on gold); the human consensus's temperature is fitted on these items.
SELECT 'human_consensus' AS source, h.confidence, h.label = g.label AS correct
FROM labels.gold g JOIN labels.human_consensus h USING (review_id)
WHERE h.label IS NOT NULL
UNION ALL
SELECT 'weak' AS source, w.confidence, w.label = g.label AS correct
FROM labels.gold g JOIN labels.weak_labels w USING (review_id)
WHERE w.label IS NOT NULL
ORDER BY ALL
