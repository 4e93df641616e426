-- The landed events (fragment events, privacy/landed.py) that are the subject's.
CREATE OR REPLACE TEMP TABLE erase_events AS
SELECT DISTINCT event_id FROM {events}
WHERE anon_id IN (SELECT anon_id FROM erase_devices) OR user_id = $user_id
