-- The staged identifiers of the subject per kind and the key that made them.
SELECT
    identifier_kind,
    key_id,
    count(*) AS n
FROM verify_subject
GROUP BY identifier_kind, key_id
