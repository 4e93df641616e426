-- The pseudonyms of an erased subject's identifiers (of every erased subject when $request_id is NULL).
SELECT DISTINCT pseudonym FROM privacy.erased_identifiers
WHERE $request_id IS NULL OR request_id = $request_id
