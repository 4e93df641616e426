-- Rule cents_by_app_version@1: an app version whose prices are, item for item, about 100 times the
-- item's median price over all versions (a client that sends cents). Needs $min_events priced events.
-- Judged on the day being cleaned and the $history_days - 1 days before it (all landed copies), so a
-- version's thin first or last day is judged with its history, the same in any run that cleans the day.
-- Prices in EUR at the latest rate on or before each event's day (as day_rates.sql takes them): the rate is
-- looked up once per (currency, day) and joined to the rows by hash (an ASOF join per row sorted them all).
-- history and priced are each read twice and NOT MATERIALIZED: stored, they held every priced row of the
-- $history_days days (at 10M events, 1.36 GB peak against 0.58 GB rescanning, for 2 CPU s less).
CREATE OR REPLACE TEMP TABLE cents_versions AS
WITH history AS NOT MATERIALIZED (
    SELECT app_version, item_id, price, upper(trim(currency)) AS code, event_date
    FROM raw.events
    WHERE event_date > $start_day - to_days($history_days) AND event_date < $end_day
      AND price > 0 AND app_version IS NOT NULL
),

rates AS (
    SELECT d.code, d.event_date, r.rate_to_eur
    FROM (SELECT DISTINCT code, event_date FROM history) d
    ASOF JOIN reference.fx_rates r ON r.currency = d.code AND d.event_date >= r.valid_from
),

priced AS NOT MATERIALIZED (
    SELECT h.app_version, h.item_id, h.price * r.rate_to_eur AS eur
    FROM history h JOIN rates r ON r.code = h.code AND r.event_date = h.event_date
),

-- The medians come from a window, not from median() (sql/common/exact_median.sql: the fragments item_median and
-- version_median, over priced and version_ratios).
item_median AS (
    {item_median}
),

-- (noqa ST03 below: the fragment version_median reads it, sqlfluff sees only its placeholder)
version_ratios AS NOT MATERIALIZED (  -- noqa: ST03
    SELECT p.app_version, p.eur / i.median AS ratio
    FROM priced p JOIN item_median i USING (item_id)
    WHERE i.median > 0
),

per_version AS (
    {version_median}
)

SELECT app_version, median AS ratio, n FROM per_version
WHERE n >= $min_events AND median BETWEEN 50 AND 200
