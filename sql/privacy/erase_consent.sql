-- An erased subject's consent records go with them: the tombstones keep them out from now on, and a keyed
-- pseudonym is still personal data. $pseudonyms: the subject's ids under every key in use (current and retired).
DELETE FROM privacy.consent_history
WHERE subject_pseudonym IN (SELECT unnest($pseudonyms))
