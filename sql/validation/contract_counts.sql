-- One pass over one partition of a table: its rows, the rows failing any check of its contract, and the
-- failing rows of each check (the conditions are built by code from the contract; their values are bound).
SELECT count(*) AS rows_checked, count(*) FILTER (WHERE {any_failing}) AS failing_rows, {failing}
FROM {table}
WHERE {where}
