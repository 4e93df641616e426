-- The day being cleaned, for the day_events view (a view cannot hold bound parameters; getvariable()
-- is folded into a constant when the view is read, so the scan of raw.events still skips other days).
SET VARIABLE clean_day = { 'start_day': $start_day::DATE, 'end_day': $end_day::DATE }
