-- Human consensus classes the label model may be anchored on: gold items are left out, so that the
-- label model's accuracy on gold stays a held-out figure.
SELECT review_id, label_index FROM labels.human_consensus
WHERE label_index >= 0 AND review_id NOT IN (SELECT review_id FROM labels.gold)
