-- Rule cents_by_app_version@1: an app version whose prices are, item for item, about 100 times the
-- item's median price over all versions (a client that sends cents). Needs $min_events priced events.
-- Judged on the day being cleaned and the $history_days - 1 days before it (all landed copies), so a
-- version's thin first or last day is judged with its history, the same in any run that cleans the day.
CREATE OR REPLACE TEMP TABLE cents_versions AS
WITH priced AS (
    SELECT e.app_version, e.item_id, e.price * r.rate_to_eur AS eur
    FROM raw.events e JOIN reference.fx_rates r ON r.currency = e.currency
    WHERE e.event_date > $start_day - to_days($history_days) AND e.event_date < $end_day
      AND e.price > 0 AND e.app_version IS NOT NULL
), item_median AS (
    SELECT item_id, median(eur) AS m FROM priced GROUP BY item_id
), per_version AS (
    SELECT app_version, median(eur / m) AS ratio, count(*) AS n
    FROM priced JOIN item_median USING (item_id)
    WHERE m > 0
    GROUP BY app_version
)
SELECT app_version, ratio, n FROM per_version
WHERE n >= $min_events AND ratio BETWEEN 50 AND 200
