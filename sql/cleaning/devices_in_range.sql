SELECT DISTINCT anon_id FROM raw.events WHERE event_date >= $start_day AND event_date < $end_day
