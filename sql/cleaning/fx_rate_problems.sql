-- Cells of the rates file that are not a rate: a day that is no date, a column that is no ISO 4217
-- code, a value that is not a positive finite number, a (day, currency) given twice. Empty: good file.
SELECT day_text, currency, units_text,
       CASE WHEN day IS NULL THEN 'Date is not YYYY-MM-DD'
            WHEN NOT regexp_full_match(currency, '[A-Z]{3}') THEN 'column is not a 3-letter currency code'
            WHEN units IS NULL OR NOT isfinite(units) OR units <= 0 THEN 'not a positive number of units per EUR'
            ELSE 'the same day and currency twice' END AS problem
FROM fx_cells
QUALIFY day IS NULL OR NOT regexp_full_match(currency, '[A-Z]{3}') OR units IS NULL OR NOT isfinite(units)
        OR units <= 0 OR count(*) OVER (PARTITION BY day, currency) > 1
ORDER BY day_text, currency
LIMIT 5
