-- Kept-so-far events whose device or user has opted out (pseudonyms compared, no raw id stored).
CREATE OR REPLACE TEMP TABLE consent_excluded AS
SELECT e.event_id, e.event_date
FROM day_events e
WHERE e.event_id NOT IN (SELECT event_id FROM rule_hits)
  AND ({anon_pseudonym} IN (SELECT subject_pseudonym FROM opted_out)
       OR {user_pseudonym} IN (SELECT subject_pseudonym FROM opted_out))
