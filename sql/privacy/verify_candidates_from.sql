-- The distinct candidate tokens cut out of a file in Python (registered as {relation}).
CREATE OR REPLACE TEMP TABLE verify_candidates AS
SELECT DISTINCT token FROM {relation}
