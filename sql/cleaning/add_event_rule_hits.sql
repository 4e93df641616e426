INSERT INTO rule_hits
SELECT event_id, $rule_id, $rule_version, $kind, $rank FROM ({rule_sql})
