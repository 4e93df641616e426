-- The lake snapshot this connection reads (inside a transaction: the one the transaction started on).
SELECT id FROM lake.current_snapshot()
