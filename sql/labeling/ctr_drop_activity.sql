-- Once both histories are counted, the narrow events are no longer needed: their memory goes back to the
-- slices of examples.
DROP TABLE IF EXISTS ctr_activity
