-- Every clean review, with its item's category (the most frequent one its impressions carry).
CREATE OR REPLACE TABLE labels.reviews AS
WITH item_category AS (
    SELECT item_id, mode(category) AS category
    FROM clean.events
    WHERE event_type = 'impression' AND category IS NOT NULL
    GROUP BY item_id
)

SELECT e.event_id AS review_id, e.event_date, e.ts, e.item_id, c.category, e.text, e.rating,
       length(e.text) AS text_length, e.person_key, e.source_file, e.source_line, e.ruleset_version
FROM clean.events e
LEFT JOIN item_category c USING (item_id)
WHERE e.event_type = 'review'
ORDER BY review_id
