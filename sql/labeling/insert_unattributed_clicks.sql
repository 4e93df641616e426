-- The staged clicks each day owns that labelled nothing (a click is owned by the day it was staged for
-- when that day is its impression's day, else its own day).
INSERT INTO labels.unattributed_clicks
SELECT click_event_id, impression_id, owner_date, click_ts, reason, delay_s, source_file, source_line, $run_id
FROM ctr_attribution
WHERE reason IS NOT NULL AND owner_date = run_day
