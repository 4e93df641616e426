-- The events of the day being cleaned, one copy of each (day_duplicates.sql lists the others): a view
-- over raw.events that every rule and insert reads, so the day's rows are never copied. The day comes
-- from set_clean_day.sql (a view holds no bound parameters; getvariable() is folded into a constant
-- when the view is read, so the scan of raw.events still skips the other days' row groups).
CREATE OR REPLACE TEMP VIEW day_events AS
SELECT r.*
FROM raw.events r
ANTI JOIN day_duplicates d ON d.source_file = r.source_file AND d.source_line = r.source_line
WHERE r.event_date >= getvariable('clean_day').start_day AND r.event_date < getvariable('clean_day').end_day
