-- The map as of the end of the last day cleaned, published as the current map: no login was landed after
-- that day, so it was built from exactly the links the current map would be built from.
CREATE OR REPLACE TABLE clean.identity_map AS
SELECT * FROM temp.identity_as_of
ORDER BY anon_id
