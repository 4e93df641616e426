-- The identifiers an erasure request recorded (keyed pseudonyms), the subject verification searches for.
CREATE OR REPLACE TEMP TABLE verify_subject AS
SELECT DISTINCT
    identifier_kind,
    pseudonym,
    key_id
FROM privacy.erased_identifiers
WHERE request_id = $request_id
