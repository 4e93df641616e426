-- Accounting of labels.review_examples against labels.reviews, and its invariants.
SELECT
    (SELECT count(*) FROM labels.reviews) AS reviews,
    (SELECT count(*) FROM labels.review_examples) AS examples,
    (SELECT count(DISTINCT review_id) FROM labels.review_examples) AS distinct_reviews,
    (SELECT count(*) FROM labels.reviews r WHERE NOT EXISTS (
        SELECT 1 FROM labels.weak_labels w WHERE w.review_id = r.review_id AND w.label IS NOT NULL)
      AND r.review_id NOT IN (SELECT review_id FROM labels.gold)
      AND r.review_id NOT IN (SELECT review_id FROM labels.human_consensus WHERE label IS NOT NULL)) AS unlabeled,
    (SELECT count(*) FROM labels.review_examples e
     WHERE e.label NOT IN ('negative', 'neutral', 'positive')
        OR e.label_confidence IS NULL OR e.label_confidence < 0 OR e.label_confidence > 1
        OR (e.label_source = 'gold') <> (e.review_id IN (SELECT review_id FROM labels.gold))
        OR (e.label_source = 'weak' AND e.human_label IS NOT NULL)
        OR e.source_file IS NULL) AS invalid_rows
