-- Login links (device -> user) of every day before end_day (every day when end_day is NULL), for
-- identity resolution; devices with a crawler user agent never link anybody.
CREATE OR REPLACE TEMP TABLE login_links AS
SELECT anon_id, user_id, ts
FROM raw.events
WHERE event_type = 'login' AND user_id IS NOT NULL AND ($end_day IS NULL OR event_date < $end_day)
  AND NOT regexp_matches(lower(coalesce(user_agent, '')), $crawler_pattern)
