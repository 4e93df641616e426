-- The candidate tokens cut out of files in Python (registered as {relation}: place, token).
INSERT INTO verify_candidates
SELECT
    place,
    token
FROM {relation}
