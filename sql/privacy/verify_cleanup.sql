-- The temporary tables of a verification, dropped when it ends.
DROP TABLE IF EXISTS verify_candidates;
DROP TABLE IF EXISTS verify_subject;
