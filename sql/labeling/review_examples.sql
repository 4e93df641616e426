-- One label per review: gold beats human consensus, which beats the weak label. Reviews with none of
-- the three (no LF voted, never annotated) are left out and counted by the asset.
CREATE OR REPLACE TABLE labels.review_examples AS
SELECT
    r.review_id, r.event_date, r.item_id, r.category, r.text, r.rating,
    coalesce(g.label, h.label, w.label) AS label,
    CASE WHEN g.label IS NOT NULL THEN 'gold' WHEN h.label IS NOT NULL THEN 'human_consensus'
         ELSE 'weak' END AS label_source,
    CASE WHEN g.label IS NOT NULL THEN 1.0 WHEN h.label IS NOT NULL THEN h.confidence
         ELSE w.confidence END AS label_confidence,
    coalesce(h.raters, 0) AS rater_count,
    h.label AS human_label, h.confidence AS human_confidence, w.label AS weak_label, w.confidence AS weak_confidence,
    i.review_id IS NOT NULL AS suspected_label_error,
    r.person_key, r.source_file, r.source_line,
    $label_model AS label_model, now() AS labeled_at, $run_id AS label_run_id
FROM labels.reviews r
LEFT JOIN labels.gold g USING (review_id)
LEFT JOIN labels.human_consensus h USING (review_id)
LEFT JOIN labels.weak_labels w USING (review_id)
LEFT JOIN labels.label_issues i USING (review_id)
WHERE coalesce(g.label, h.label, w.label) IS NOT NULL
ORDER BY r.review_id
