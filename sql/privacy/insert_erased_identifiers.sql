-- Every identifier of the subject staged in erase_subject_ids, before their rows go: the user id and devices,
-- the IPs that only their events came from (a shared address names other people too), and the e-mail
-- addresses and phone numbers in their texts. Stored as keyed pseudonyms.
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
    SELECT
        'ip' AS identifier_kind,
        e.ip AS id
    FROM raw.events AS e
    WHERE e.ip IS NOT NULL
    GROUP BY e.ip
    HAVING bool_and(e.anon_id IN (SELECT s.id FROM erase_subject_ids AS s)
        OR e.user_id IN (SELECT s.id FROM erase_subject_ids AS s))
    UNION ALL
    SELECT
        found.identifier_kind,
        unnest(found.ids) AS id
    FROM (
        SELECT
            'email' AS identifier_kind,
            regexp_extract_all(e.text, $email_pattern) AS ids
        FROM raw.events AS e
        WHERE e.text IS NOT NULL
            AND (e.anon_id IN (SELECT s.id FROM erase_subject_ids AS s)
                OR e.user_id IN (SELECT s.id FROM erase_subject_ids AS s))
        UNION ALL
        SELECT
            'phone' AS identifier_kind,
            regexp_extract_all(e.text, $phone_pattern) AS ids
        FROM raw.events AS e
        WHERE e.text IS NOT NULL
            AND (e.anon_id IN (SELECT s.id FROM erase_subject_ids AS s)
                OR e.user_id IN (SELECT s.id FROM erase_subject_ids AS s))
    ) AS found
)
WHERE id IS NOT NULL
