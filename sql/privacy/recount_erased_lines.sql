-- Before the subject's lines leave the parse store ({predicate}: the registry's, for raw.landed_lines), move
-- them in their files' accounting from accepted / quarantined to erased_subject, so that every file still
-- balances: lines = accepted + quarantined + erased_subject.
UPDATE raw.files AS f
SET accepted = f.accepted - g.accepted,
    quarantined = f.quarantined - g.quarantined,
    erased_subject = coalesce(f.erased_subject, 0) + g.accepted + g.quarantined
FROM (
    SELECT file_id,
           count(*) FILTER (WHERE reason IS NULL) AS accepted,
           count(*) FILTER (WHERE reason IS NOT NULL) AS quarantined
    FROM raw.landed_lines
    WHERE {predicate}
    GROUP BY file_id
) AS g
WHERE f.file_id = g.file_id
