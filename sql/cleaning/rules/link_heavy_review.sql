-- Reviews that are mostly contact or link material: $min_links or more links in one text.
SELECT event_id
FROM day_events
WHERE event_type = 'review'
  AND len(regexp_extract_all(lower(text), $link_pattern)) >= $min_links
