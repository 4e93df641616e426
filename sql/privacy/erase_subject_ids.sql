-- Every raw id of the subject (devices and user) and their keyed pseudonyms.
CREATE OR REPLACE TEMP TABLE erase_subject_ids AS
SELECT id, {pseudonym} AS pseudonym FROM (
    SELECT anon_id AS id FROM erase_devices
    UNION
    SELECT $user_id WHERE $user_id IS NOT NULL
)
