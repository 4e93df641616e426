-- Run in the rewritten copy of the warehouse: the erased rows' bytes are gone with the old file.
UPDATE privacy.requests SET status = 'done' WHERE status = 'erased'
