-- Whether this request line was applied already: its transaction committed (an erasure is 'erased' once its
-- rows are gone, 'done' once their bytes are too); a rerun after a crash skips it.
SELECT count(*) > 0 FROM privacy.requests
WHERE request_id = $request_id AND kind = $kind AND source_file = $source_file AND source_line = $source_line
    AND status IN ('done', 'erased')
