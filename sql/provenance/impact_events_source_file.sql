-- The raw events a landing file (LIKE pattern) holds.
CREATE OR REPLACE TEMP TABLE impact_events AS
SELECT DISTINCT event_id FROM raw.events WHERE source_file LIKE $value
