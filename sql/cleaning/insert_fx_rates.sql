-- Store the checked cells of the rates file: one row per currency and day with a
-- rate, rate_to_eur = 1 / (units per EUR), valid from that day until the currency's next row. EUR itself
-- is the identity, valid since the euro's start.
INSERT INTO reference.fx_rates
SELECT $version, currency, 1 / units, day, $source FROM fx_cells
UNION ALL
SELECT $version, 'EUR', 1.0, DATE '1999-01-01', 'identity'
