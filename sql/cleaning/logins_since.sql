-- Whether any login was landed on or after $day (then the map as of the day before is not the current one).
SELECT count(*) > 0 AS any_login
FROM (SELECT 1 FROM raw.events WHERE event_type = 'login' AND event_date >= $day LIMIT 1)
