-- The reviews of [start_day, end_day) each rule version matched (rules_matched: whichever rule removed
-- them), and how many of them are spam by the ground truth $spam_ids; "all rules" counts every removed
-- review. One row per rule version, plus the spam total of the days (rule NULL).
WITH truth AS (
    SELECT DISTINCT unnest($spam_ids::VARCHAR[]) AS event_id
),

reviews AS (
    SELECT DISTINCT r.event_id, t.event_id IS NOT NULL AS is_spam
    FROM raw.events r LEFT JOIN truth t USING (event_id)
    WHERE r.event_type = 'review' AND r.event_date >= $start_day AND r.event_date < $end_day
),

matched AS (
    SELECT DISTINCT f.event_id, m.rule
    FROM clean.filtered_events f, unnest(list_append(f.rules_matched, 'all rules')) AS m (rule)
    WHERE f.event_type = 'review' AND f.event_date >= $start_day AND f.event_date < $end_day
)

SELECT m.rule, count(*) AS flagged, count(*) FILTER (WHERE r.is_spam) AS spam_flagged
FROM matched m JOIN reviews r USING (event_id)
GROUP BY m.rule
UNION ALL
SELECT NULL, count(*), count(*) FILTER (WHERE is_spam) FROM reviews
ORDER BY rule NULLS FIRST
