-- The devices an erasure covers: the device itself, or the user's exclusive devices (every login on
-- them names this user and nobody else) among the landed events (fragment events: raw.events, or no row before
-- the first ingestion, privacy/landed.py; then an anon_id request's device alone).
CREATE OR REPLACE TEMP TABLE erase_devices AS
SELECT $anon_id AS anon_id WHERE $anon_id IS NOT NULL
UNION
SELECT anon_id FROM {events}
WHERE $user_id IS NOT NULL AND event_type = 'login' AND user_id IS NOT NULL
GROUP BY anon_id
HAVING bool_and(user_id = $user_id)
