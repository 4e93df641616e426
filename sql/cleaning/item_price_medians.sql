-- Median EUR price per item over the versions that send prices in currency units.
CREATE OR REPLACE TEMP TABLE item_price_medians AS
SELECT e.item_id, median(e.price * r.rate_to_eur) AS median_eur
FROM day_events e JOIN day_rates r ON r.currency = e.currency AND r.event_date = e.event_date
WHERE e.price > 0 AND (e.app_version IS NULL OR e.app_version NOT IN (SELECT app_version FROM cents_versions))
GROUP BY e.item_id
