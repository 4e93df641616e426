-- Values outside their domains in clean.events of [start_day, end_day) (counted, not removed).
SELECT
    count(*) FILTER (WHERE country IS NOT NULL AND NOT regexp_full_match(country, '[A-Z]{2}'))
        AS country_not_iso_alpha2,
    count(*) FILTER (WHERE country IS NULL) AS country_missing,
    count(*) FILTER (WHERE device IS NOT NULL AND device NOT IN ('ios', 'android', 'web')) AS device_unknown,
    count(*) FILTER (WHERE device IS NULL) AS device_missing,
    count(*) FILTER (WHERE rating IS NOT NULL AND rating NOT BETWEEN 1 AND 5) AS rating_out_of_domain,
    count(*) FILTER (WHERE position IS NOT NULL AND position < 1) AS position_out_of_domain,
    -- a currency with no price (e.g. on a review): nothing to convert, counted (prices without a rate are
    -- set aside as unknown_currency, see the currencies_without_rate metadata)
    count(*) FILTER (WHERE currency_raw IS NOT NULL AND price_raw IS NULL) AS currency_without_price
FROM clean.events
WHERE event_date >= $start_day AND event_date < $end_day
