-- The distinct candidate tokens of identifier shapes in the text columns of one relation (a table, or a
-- Parquet file read in place): runs of identifier characters, phone numbers (which hold spaces), short values.
INSERT INTO verify_candidates
WITH
v AS (
    SELECT unnest([{columns}]) AS value FROM {relation}
)

SELECT DISTINCT
    $place AS place,
    token
FROM (
    SELECT unnest(regexp_extract_all(value, $token_pattern)) AS token FROM v
    UNION ALL
    SELECT unnest(regexp_extract_all(value, $phone_pattern)) AS token FROM v
    UNION ALL
    -- a whole short value too: an id of free shape (with spaces, say) is a column's whole value
    SELECT value AS token FROM v WHERE length(value) <= 256
)
