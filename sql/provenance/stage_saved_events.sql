CREATE OR REPLACE TEMP TABLE impact_events AS
SELECT DISTINCT event_id FROM provenance.invalidated_events WHERE invalidation_id = $id
