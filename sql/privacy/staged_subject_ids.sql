-- The raw ids of the subject an erasure staged (temporary, this connection only).
SELECT id FROM erase_subject_ids
