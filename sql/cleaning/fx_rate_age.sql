-- Per currency code with a rate, the most days between an event's day and the day of the rate it took
-- (a weekend: 1 or 2; a rates file left un-updated: growing every day). EUR, the base, never ages.
SELECT upper(trim(currency)) AS currency, max(event_date - rate_day) AS days
FROM day_rates WHERE rate_to_eur IS NOT NULL AND upper(trim(currency)) <> 'EUR'
GROUP BY 1 ORDER BY 1
