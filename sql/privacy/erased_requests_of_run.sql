-- The erasures to verify now: the ones run $run_id carried out (every erasure audits every person table, so
-- each has a row), and every earlier one whose latest verification found something (a failed verification
-- blocks every privacy run until the subject is gone everywhere).
SELECT request_id
FROM privacy.erasure_audit
WHERE run_id = $run_id
UNION
SELECT request_id
FROM privacy.erasure_verifications
QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY verified_at DESC) = 1 AND NOT passed
ORDER BY request_id
