-- Replace the stored rates with the checked cells of the rates file: one row per currency and day with a
-- rate, rate_to_eur = 1 / (units per EUR), valid from that day until the currency's next row. EUR itself
-- is the identity, valid since the euro's start. A replacement, not a delete and insert: two runs that load
-- the same new file at once conflict on the lake (one retries and finds it loaded) instead of both
-- inserting it.
CREATE OR REPLACE TABLE reference.fx_rates AS
SELECT
    $version::VARCHAR AS version,
    currency::VARCHAR AS currency,
    (1 / units)::DOUBLE AS rate_to_eur,
    day::DATE AS valid_from,
    $source::VARCHAR AS source
FROM fx_cells
UNION ALL
SELECT $version, 'EUR', 1.0, DATE '1999-01-01', 'identity'
