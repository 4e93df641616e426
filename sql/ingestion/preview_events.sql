-- A few rows for the UI, with personal data masked (ip, free text, user agent).
SELECT event_id, event_type, ts, anon_id, item_id, position, price, currency, country, device,
       CASE WHEN ip IS NOT NULL THEN '<masked>' END AS ip,
       CASE WHEN text IS NOT NULL THEN '<masked>' END AS text,
       source_file, source_line
FROM raw.events WHERE event_date >= $start_day AND event_date < $end_day
ORDER BY source_file, source_line
LIMIT 5
