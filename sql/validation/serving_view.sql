-- What the serving model sees: the clean impressions (profiled daily for training/serving skew).
CREATE SCHEMA IF NOT EXISTS monitoring;
CREATE OR REPLACE VIEW monitoring.serving_impressions AS
SELECT event_date, position, price_eur, category, device, country, predicted_ctr
FROM clean.events
WHERE event_type = 'impression';
