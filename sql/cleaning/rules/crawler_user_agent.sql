-- Devices that announce themselves as crawlers or scripts in their user agent.
SELECT DISTINCT anon_id
FROM day_events
WHERE regexp_matches(lower(user_agent), $pattern)
