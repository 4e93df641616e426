-- The landed events before the first ingestion created raw.events: no row, the columns privacy reads of them
-- (privacy/landed.py). A request that arrives before any data finds nothing of the subject in the warehouse.
SELECT
    NULL::VARCHAR AS event_id,
    NULL::VARCHAR AS event_type,
    NULL::VARCHAR AS anon_id,
    NULL::VARCHAR AS user_id,
    NULL::VARCHAR AS ip,
    NULL::VARCHAR AS text
WHERE FALSE
