-- The staged clicks this range owns that labelled nothing.
INSERT INTO labels.unattributed_clicks
SELECT click_event_id, impression_id, owner_date, click_ts, reason, delay_s, source_file, source_line, $run_id
FROM ctr_attribution
WHERE reason IS NOT NULL AND owner_date >= $start_day AND owner_date < $end_day
