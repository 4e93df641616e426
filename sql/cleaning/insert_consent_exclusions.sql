INSERT INTO clean.consent_exclusions SELECT event_id, event_date, $run_id FROM consent_excluded
