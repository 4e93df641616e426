-- Subjects whose latest consent status as of $as_of is opted_out (pseudonyms only).
CREATE OR REPLACE TEMP TABLE opted_out AS
SELECT subject_kind, subject_pseudonym
FROM privacy.consent_history
WHERE effective_at <= $as_of
QUALIFY row_number() OVER (PARTITION BY subject_kind, subject_pseudonym ORDER BY effective_at DESC) = 1
    AND status = 'opted_out'
