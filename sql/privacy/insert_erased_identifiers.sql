-- Every identifier of the subject staged in erase_subject_ids, before their rows go: the user id and devices,
-- the person keys made of them,
-- the IPs that only their events came from (a shared address names other people too), and the e-mail
-- addresses and phone numbers in their texts, found in the landed events (fragment events, privacy/landed.py).
-- Stored as keyed pseudonyms.
INSERT INTO privacy.erased_identifiers
SELECT DISTINCT
    $request_id AS request_id,
    identifier_kind,
    {pseudonym} AS pseudonym,
    $key_id AS key_id,
    $erased_at AS erased_at
FROM (
    SELECT
        CASE WHEN id = $user_id THEN 'user_id' ELSE 'anon_id' END AS identifier_kind,
        id
    FROM erase_subject_ids
    UNION ALL
    -- the person keys the clean step made of them ('u:' || user id, 'a:' || device): their pseudonyms name the
    -- subject in clean, label, split and export rows (an export's group_key)
    SELECT
        'person_key' AS identifier_kind,
        CASE WHEN id = $user_id THEN 'u:' ELSE 'a:' END || id AS id
    FROM erase_subject_ids
    UNION ALL
    SELECT
        'ip' AS identifier_kind,
        e.ip AS id
    FROM {events} AS e
    WHERE e.ip IS NOT NULL
    GROUP BY e.ip
    HAVING bool_and(e.anon_id IN (SELECT s.id FROM erase_subject_ids AS s)
        OR e.user_id IN (SELECT s.id FROM erase_subject_ids AS s))
    UNION ALL
    SELECT
        pattern.identifier_kind,
        unnest(regexp_extract_all(e.text, pattern.regex)) AS id
    FROM {events} AS e
    CROSS JOIN (VALUES ('email', $email_pattern), ('phone', $phone_pattern)) AS pattern (identifier_kind, regex)
    WHERE e.text IS NOT NULL
        AND (e.anon_id IN (SELECT s.id FROM erase_subject_ids AS s)
            OR e.user_id IN (SELECT s.id FROM erase_subject_ids AS s))
)
WHERE id IS NOT NULL
