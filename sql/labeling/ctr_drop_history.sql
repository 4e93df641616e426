-- Once the examples are written, the {side} history counts are no longer needed: their memory (two narrow
-- columns per impression of the range) goes back to the checks that read the examples in the same step.
DROP TABLE IF EXISTS ctr_{side}_history
