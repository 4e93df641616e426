-- Removed events: the first matching rule in registry order names the removal; all matches are kept.
INSERT INTO clean.filtered_events
SELECT e.event_id, e.event_type, e.event_date, d.anon_pseudonym,
       arg_min(h.rule_id, h.rank), arg_min(h.rule_version, h.rank), arg_min(h.kind, h.rank),
       list(DISTINCT h.rule_id || '@' || h.rule_version ORDER BY h.rule_id || '@' || h.rule_version),
       $ruleset_version, e.source_file, e.source_line, e.file_sha256, $run_id
FROM day_events e
JOIN rule_hits h USING (event_id)
LEFT JOIN day_devices d ON d.anon_id = e.anon_id
GROUP BY e.event_id, e.event_type, e.event_date, d.anon_pseudonym, e.source_file, e.source_line, e.file_sha256
