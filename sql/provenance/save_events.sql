INSERT INTO provenance.invalidated_events SELECT $id, event_id FROM impact_events
