-- The erasures to verify now: the ones run $run_id carried out (an erasure audits every person table that
-- exists, so each has a row), every erasure that audited no table and was never verified (it came before any
-- data landed: no person table existed yet; the first run that verifies takes it), and every earlier one whose
-- latest verification found something (a failed verification blocks every privacy run until the subject is gone
-- everywhere).
SELECT request_id
FROM privacy.erasure_audit
WHERE run_id = $run_id
UNION
SELECT r.request_id
FROM privacy.requests AS r
WHERE r.kind = 'erase'
    AND r.request_id NOT IN (SELECT a.request_id FROM privacy.erasure_audit AS a)
    AND r.request_id NOT IN (SELECT v.request_id FROM privacy.erasure_verifications AS v)
UNION
SELECT request_id
FROM privacy.erasure_verifications
QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY verified_at DESC) = 1 AND NOT passed
ORDER BY request_id
