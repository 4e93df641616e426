-- Currencies (as sent) that had priced events but no rate on or before their day, in [start_day, end_day).
SELECT e.currency, count(*) AS events, min(e.event_date) AS first_day, max(e.event_date) AS last_day
FROM day_events e
JOIN rule_hits h ON h.event_id = e.event_id AND h.rule_id = 'unknown_currency'
GROUP BY 1 ORDER BY 2 DESC, 1
