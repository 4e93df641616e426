-- repeated_review_with_link@2: the same review text carrying a link to a site other than the shop's own,
-- posted from $min_devices or more devices on one day: mass-posted promotion. Links to the shop's own site
-- (customers citing a help page) promote nothing; counting per day keeps the decision the same whether a
-- day is cleaned alone or in a range.
WITH linked AS (
    SELECT event_id, anon_id, event_date, lower(trim(text)) AS body
    FROM day_events
    WHERE event_type = 'review'
      AND len(list_filter(regexp_extract_all(lower(text), $link_pattern, 1),
                          url -> NOT regexp_matches(url, $shop_site_pattern))) > 0
)

SELECT candidate.event_id
FROM linked AS candidate
WHERE (candidate.body, candidate.event_date) IN (
    SELECT (body, event_date) FROM linked GROUP BY body, event_date HAVING count(DISTINCT anon_id) >= $min_devices
)
