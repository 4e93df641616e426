-- Which of the subject's identifiers each place holds. Every distinct token of every place is cut into its parts
-- (words, e-mails, addresses) and pseudonymised with the current key once; a part that is itself one of the
-- subject's pseudonyms counts too where the place allows it (verify_direct). Per place: the distinct tokens
-- checked and, per identifier kind, how many of the subject's identifiers were found (never which).
-- A token is carried through the parts and the hits by its number (md5_number), never by its text: a long token
-- with many parts (the database file's bytes can hold runs of 100 KB with thousands of words, e.g. timestamps
-- stored back to back) would otherwise be held once per part (its length times its parts: GBs). Two tokens with
-- the same number (a 128-bit hash) would share their hits: a hit can be added that way, never lost.
WITH
distinct_tokens AS (
    SELECT
        token,
        md5_number(token) AS token_id
    FROM (SELECT DISTINCT token FROM verify_candidates)
),

token_parts AS (
    SELECT DISTINCT
        token_id,
        t
    FROM (
        SELECT token_id, token AS t FROM distinct_tokens
        UNION ALL
        SELECT token_id, unnest(regexp_extract_all(token, $word_pattern)) FROM distinct_tokens
        UNION ALL
        SELECT token_id, unnest(regexp_extract_all(token, $email_pattern)) FROM distinct_tokens
        UNION ALL
        SELECT token_id, unnest(regexp_extract_all(token, $ipv4_pattern)) FROM distinct_tokens
        UNION ALL
        SELECT token_id, unnest(regexp_extract_all(token, $ipv6_pattern)) FROM distinct_tokens
    )
    WHERE t <> ''
),

hashed AS (
    SELECT
        d.t,
        s.identifier_kind,
        s.pseudonym
    FROM (SELECT DISTINCT t FROM token_parts) AS d
    INNER JOIN verify_subject AS s ON {pseudonym} = s.pseudonym
),

hits AS (
    SELECT
        p.token_id,
        h.identifier_kind,
        h.pseudonym,
        FALSE AS direct
    FROM token_parts AS p
    INNER JOIN hashed AS h ON p.t = h.t
    UNION ALL
    SELECT
        p.token_id,
        s.identifier_kind,
        s.pseudonym,
        TRUE AS direct
    FROM token_parts AS p
    INNER JOIN verify_subject AS s ON p.t = s.pseudonym
    WHERE regexp_full_match(p.t, $pseudonym_pattern)
),

found AS (
    SELECT
        c.place,
        h.identifier_kind,
        count(DISTINCT h.pseudonym) AS n
    FROM verify_candidates AS c
    INNER JOIN hits AS h ON md5_number(c.token) = h.token_id
    INNER JOIN verify_direct AS v ON c.place = v.place
    WHERE NOT h.direct OR v.direct
    GROUP BY c.place, h.identifier_kind
),

tokens AS (
    SELECT
        place,
        count(DISTINCT token) AS n
    FROM verify_candidates
    GROUP BY place
)

SELECT
    v.place,
    coalesce(any_value(t.n), 0) AS tokens,
    list(struct_pack(kind := f.identifier_kind, n := f.n)) FILTER (WHERE f.n IS NOT NULL) AS found
FROM verify_direct AS v
LEFT JOIN tokens AS t ON v.place = t.place
LEFT JOIN found AS f ON v.place = f.place
GROUP BY v.place
ORDER BY v.place
