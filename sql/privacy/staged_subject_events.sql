-- The event ids of the subject an erasure staged (temporary, this connection only).
SELECT event_id FROM erase_events
