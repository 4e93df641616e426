-- Once the {side} history is counted, its narrow events are no longer needed: their memory goes back to the
-- next statements.
DROP TABLE IF EXISTS ctr_{side}_activity
