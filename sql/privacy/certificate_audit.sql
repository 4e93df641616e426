-- What the erasure of one request removed, per table (the counts before; verification gives the after).
SELECT
    table_name,
    sum(rows_removed) AS rows_removed,
    min(processed_at) AS processed_at,
    string_agg(DISTINCT run_id, ', ') AS run_ids
FROM privacy.erasure_audit
WHERE request_id = $request_id
GROUP BY table_name
ORDER BY table_name
