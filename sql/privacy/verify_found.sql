-- Which of the subject's identifiers the candidate tokens hold: each token and its parts (words, e-mails,
-- addresses) pseudonymised with the current key once per distinct value, and looked up; with $direct, a
-- token that is itself one of the subject's pseudonyms counts too. Returns the distinct tokens checked
-- and, per identifier kind, how many of the subject's identifiers were found (never which).
WITH
parts AS (
    SELECT DISTINCT t FROM (
        SELECT token AS t FROM verify_candidates
        UNION ALL
        SELECT unnest(regexp_extract_all(token, $word_pattern)) FROM verify_candidates
        UNION ALL
        SELECT unnest(regexp_extract_all(token, $email_pattern)) FROM verify_candidates
        UNION ALL
        SELECT unnest(regexp_extract_all(token, $ipv4_pattern)) FROM verify_candidates
        UNION ALL
        SELECT unnest(regexp_extract_all(token, $ipv6_pattern)) FROM verify_candidates
    )
    WHERE t <> ''
),

hashed AS (
    SELECT {pseudonym} AS pseudonym FROM parts
    UNION ALL
    SELECT t AS pseudonym FROM parts WHERE $direct AND regexp_full_match(t, $pseudonym_pattern)
),

found AS (
    SELECT DISTINCT
        s.identifier_kind,
        s.pseudonym
    FROM hashed AS h
    INNER JOIN verify_subject AS s ON h.pseudonym = s.pseudonym
)

SELECT
    (SELECT count(*) FROM parts) AS tokens,
    (SELECT list(struct_pack(kind := identifier_kind, n := n)) FROM (
        SELECT identifier_kind, count(*) AS n FROM found GROUP BY identifier_kind
    )) AS found
