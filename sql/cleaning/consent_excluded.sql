-- Kept-so-far events whose device or user has opted out (pseudonyms compared, no raw id stored; the
-- flags are in day_devices.sql and day_users.sql).
CREATE OR REPLACE TEMP TABLE consent_excluded AS
SELECT e.event_id, e.event_date
FROM day_events e
ANTI JOIN rule_hits h ON h.event_id = e.event_id
WHERE e.anon_id IN (SELECT anon_id FROM day_devices WHERE opted_out)
   OR e.user_id IN (SELECT user_id FROM day_users WHERE opted_out)
