-- The raw events a client version sent.
CREATE OR REPLACE TEMP TABLE impact_events AS
SELECT DISTINCT event_id FROM raw.events WHERE app_version = $value
