-- The erasure requests a run carried out (every erasure audits every person table, so each has a row).
SELECT DISTINCT request_id
FROM privacy.erasure_audit
WHERE run_id = $run_id
ORDER BY request_id
