SELECT price_fix, ruleset_version, fx_version FROM clean.events WHERE event_id = $id
