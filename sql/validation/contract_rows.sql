-- The rows of one partition of a table, streamed to the contract check in chunks.
SELECT * FROM {table} WHERE {where}
