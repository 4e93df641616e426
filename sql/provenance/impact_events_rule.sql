-- The events a rule version removed.
CREATE OR REPLACE TEMP TABLE impact_events AS
SELECT DISTINCT event_id FROM clean.filtered_events WHERE rule_id = $rule_id AND rule_version = $version
