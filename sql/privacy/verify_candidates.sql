-- The candidate tokens of every place searched (place: its number in the verification).
CREATE OR REPLACE TEMP TABLE verify_candidates (place INTEGER, token VARCHAR)
