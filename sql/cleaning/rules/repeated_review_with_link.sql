-- The same review text carrying a link, posted from several devices: mass-posted promotion.
WITH linked AS (
    SELECT event_id, anon_id, lower(trim(text)) AS body
    FROM day_events
    WHERE event_type = 'review' AND regexp_matches(lower(text), $link_pattern)
)

SELECT candidate.event_id
FROM linked AS candidate
WHERE candidate.body IN (SELECT body FROM linked GROUP BY body HAVING count(DISTINCT anon_id) >= $min_devices)
