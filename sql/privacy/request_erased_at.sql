-- When an erasure request recorded its tombstones (the time of its erasure, also when it removed no row).
SELECT min(erased_at) AS erased_at
FROM privacy.erased_identifiers
WHERE request_id = $request_id
