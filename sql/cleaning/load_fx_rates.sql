-- Replace the shipped currency rates (the CSV is the source of truth, its version a column).
INSERT INTO reference.fx_rates
SELECT version, currency, rate_to_eur, valid_from, source
FROM read_csv($path, header = true, columns = {
    'version': 'VARCHAR', 'currency': 'VARCHAR', 'rate_to_eur': 'DOUBLE', 'valid_from': 'DATE', 'source': 'VARCHAR'})
