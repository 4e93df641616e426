-- Erasures whose rows are gone but whose bytes may still be in the warehouse file's free blocks.
SELECT count(*) FROM privacy.requests WHERE status = 'erased'
