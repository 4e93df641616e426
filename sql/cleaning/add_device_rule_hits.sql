-- Every event of the devices a device-level rule returned.
INSERT INTO rule_hits
SELECT e.event_id, $rule_id, $rule_version, $kind, $rank
FROM day_events e
WHERE e.anon_id IN (SELECT anon_id FROM ({rule_sql}))
