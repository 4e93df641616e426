-- Median EUR price per item over the versions that send prices in currency units.
CREATE OR REPLACE TEMP TABLE item_price_medians AS
SELECT e.item_id, median(e.price * r.rate_to_eur) AS median_eur
FROM day_events e
JOIN day_rates r ON r.currency = e.currency AND r.event_date = e.event_date
ANTI JOIN cents_versions c ON c.app_version = e.app_version
WHERE e.price > 0
GROUP BY e.item_id
