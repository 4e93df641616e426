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

-- The medians come from the rows sorted within each group (a window), not from median(): its state per group
-- is a vector outside DuckDB's buffer pool (about 200 MB on top of a full pool in the clean step at 10M
-- events). Same values as median(): the middle one of the non-NULL values (NULLs sort last), or for an even
-- count lo * 0.5 + hi * 0.5 of the two middle ones, as DuckDB interpolates; NULL when there are none.
item_ranked AS (
    SELECT item_id, eur,
           row_number() OVER prices AS k,
           count(eur) OVER (prices ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS c
    FROM priced
    WINDOW prices AS (PARTITION BY item_id ORDER BY eur ASC NULLS LAST)
),

item_median AS (
    SELECT item_id,
           CASE WHEN any_value(c) % 2 = 1 THEN min(eur) ELSE min(eur) * 0.5 + max(eur) * 0.5 END AS m
    FROM item_ranked
    WHERE k IN ((c + 1) // 2, c // 2 + 1)
    GROUP BY item_id
),

version_ranked AS (
    SELECT app_version, eur / m AS ratio,
           row_number() OVER ratios AS k,
           count(eur / m) OVER (ratios ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS c,
           count(*) OVER (ratios ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n
    FROM priced JOIN item_median USING (item_id)
    WHERE m > 0
    WINDOW ratios AS (PARTITION BY app_version ORDER BY eur / m ASC NULLS LAST)
),

per_version AS (
    SELECT app_version,
           CASE WHEN any_value(c) % 2 = 1 THEN min(ratio) ELSE min(ratio) * 0.5 + max(ratio) * 0.5 END AS ratio,
           any_value(n) AS n
    FROM version_ranked
    WHERE k IN ((c + 1) // 2, c // 2 + 1)
    GROUP BY app_version
)

SELECT app_version, ratio, n FROM per_version
WHERE n >= $min_events AND ratio BETWEEN 50 AND 200
