-- The 64-bit hashes of ({keys}) that occur on more than one row of {relation}: the first half of counting
-- distinct keys "hash first". A hash seen once is one key on one row, so only the rows whose hash is listed
-- here need their keys compared exactly (two keys sharing a hash are told apart there); the grouping holds
-- one integer per distinct key instead of every key string (at 10M rows, the statement's peak of memory).
-- Filled into a statement as a CTE body by resources.repeated_key_hashes_sql.
SELECT hash({keys}) AS key_hash
FROM {relation}
GROUP BY key_hash
HAVING count(*) > 1
