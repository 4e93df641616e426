-- Key rotation: each consent record made under the retired key ($old_key) gets its twin under the current key
-- ($pseudonym_key), found through the subject's raw ids still in raw.events (an opted-out person was not
-- erased). Records already re-keyed are not added twice; an id no longer in raw.events cannot be re-keyed.
-- The fragment events: raw.events, or no row before the first ingestion (privacy/landed.py).
INSERT INTO privacy.consent_history
SELECT DISTINCT c.subject_kind, r.new_pseudonym, c.status, c.effective_at, c.request_id
FROM privacy.consent_history AS c
INNER JOIN (
    SELECT
        ids.subject_kind,
        {old_pseudonym} AS old_pseudonym,
        {new_pseudonym} AS new_pseudonym
    FROM (
        SELECT DISTINCT 'anon_id' AS subject_kind, anon_id AS id FROM {events} WHERE anon_id IS NOT NULL
        UNION ALL
        SELECT DISTINCT 'user_id' AS subject_kind, user_id AS id FROM {events} WHERE user_id IS NOT NULL
    ) AS ids
) AS r ON c.subject_kind = r.subject_kind AND c.subject_pseudonym = r.old_pseudonym
WHERE NOT EXISTS (
    SELECT 1 FROM privacy.consent_history AS n
    WHERE n.subject_kind = c.subject_kind AND n.subject_pseudonym = r.new_pseudonym
        AND n.status = c.status AND n.effective_at = c.effective_at
        AND n.request_id IS NOT DISTINCT FROM c.request_id
)
