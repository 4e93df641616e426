-- The EUR reference rates as the ECB publishes them (the eurofxref-hist.csv layout): a Date column
-- (YYYY-MM-DD), then one column per currency holding units of that currency per 1 EUR, "N/A" where the
-- currency has no rate that day; lines end with a comma (an unnamed empty column, ignored). Spread into
-- a temp table of cells (day, code, units), one per currency and published day; fx_rate_problems.sql
-- checks them before replace_fx_rates.sql stores them.
CREATE OR REPLACE TEMP TABLE fx_cells AS
SELECT trim("Date") AS day_text, try_cast(trim("Date") AS DATE) AS day, upper(trim(currency)) AS currency,
       trim(units) AS units_text, try_cast(trim(units) AS DOUBLE) AS units
FROM (
    UNPIVOT (SELECT * FROM read_csv($path, header = TRUE, all_varchar = TRUE))
    ON COLUMNS(* EXCLUDE ("Date")) INTO NAME currency VALUE units
)
WHERE NOT regexp_full_match(currency, 'column[0-9]+') AND trim(units) NOT IN ('N/A', '')
