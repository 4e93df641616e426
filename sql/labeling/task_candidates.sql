-- Reviews a new batch may pick by active learning or at random: not gold, no human consensus yet,
-- never sent to raters before; with the label model's class probabilities and predicted label.
SELECT w.review_id, w.p_negative, w.p_neutral, w.p_positive, w.label AS prediction
FROM labels.weak_labels w
WHERE w.review_id NOT IN (SELECT review_id FROM labels.gold)
  AND w.review_id NOT IN (SELECT review_id FROM labels.human_consensus)
  AND w.review_id NOT IN (SELECT review_id FROM labels.tasks)
ORDER BY w.review_id
