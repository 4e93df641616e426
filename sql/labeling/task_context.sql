-- What a rater sees of each review, with the label model's prediction as the pre-annotation.
SELECT r.review_id, r.text, r.item_id, r.category, w.label AS prediction, w.confidence AS prediction_score
FROM labels.reviews r
LEFT JOIN labels.weak_labels w USING (review_id)
