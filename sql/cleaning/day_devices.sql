-- The day's devices, each pseudonymised once rather than once per row: the keyed pseudonym of the
-- device, of its person as known at the end of the day (the identity map as of the day; a device
-- outside it is its own person, 'a:' || anon_id), and whether the device opted out (as of now).
CREATE OR REPLACE TEMP TABLE day_devices AS
SELECT anon_id, anon_pseudonym, person_key,
       anon_pseudonym IN (SELECT subject_pseudonym FROM opted_out) AS opted_out
FROM (
    SELECT e.anon_id, {anon_pseudonym} AS anon_pseudonym, {person_pseudonym} AS person_key
    FROM (SELECT DISTINCT anon_id FROM day_events WHERE anon_id IS NOT NULL) e
    LEFT JOIN {identity_map} m ON m.anon_id = e.anon_id
)
