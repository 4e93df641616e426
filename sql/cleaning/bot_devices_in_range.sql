-- Raw device ids that a device-level bot rule removed on [start_day, end_day).
SELECT DISTINCT r.anon_id
FROM clean.filtered_events f JOIN raw.events r USING (event_id)
WHERE f.event_date >= $start_day AND f.event_date < $end_day
  AND r.event_date >= $start_day AND r.event_date < $end_day
  AND f.kind = 'bot' AND list_contains($device_rules, f.rule_id)
