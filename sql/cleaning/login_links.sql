-- Login links (device -> user) of every day up to end_day, for identity resolution; devices with a
-- crawler user agent never link anybody.
CREATE OR REPLACE TEMP TABLE login_links AS
SELECT anon_id, user_id, ts
FROM raw.events
WHERE event_type = 'login' AND user_id IS NOT NULL AND event_date < $end_day
  AND NOT regexp_matches(lower(coalesce(user_agent, '')), $crawler_pattern)
