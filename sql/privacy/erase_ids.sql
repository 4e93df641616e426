-- Raw ids and pseudonyms of the subject, and the raw events that are theirs.
CREATE OR REPLACE TEMP TABLE erase_events AS
SELECT DISTINCT event_id FROM raw.events
WHERE anon_id IN (SELECT anon_id FROM erase_devices) OR user_id = $user_id
