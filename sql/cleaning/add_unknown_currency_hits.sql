-- Priced events whose currency has no rate on or before their day (see day_rates.sql) cannot be put in
-- EUR: they are set aside as unknown_currency, after every rule ($rank), so they are counted with the
-- removed events instead of blocking the day's clean layer with a NULL price.
INSERT INTO rule_hits
SELECT e.event_id, 'unknown_currency', 1, 'set_aside', $rank
FROM day_events e
LEFT JOIN day_rates r ON r.currency = e.currency AND r.event_date = e.event_date
WHERE e.price IS NOT NULL AND r.rate_to_eur IS NULL
