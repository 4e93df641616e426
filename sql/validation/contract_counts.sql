-- One pass over one partition of a table: its rows, the rows failing any check of its contract, and the
-- failing rows of each check (the conditions are built by code from the contract; their values are bound).
-- The inner select evaluates each check's condition once per row (NULL counts as passing); the counts and
-- the "fails any" test then read those flags instead of evaluating every condition a second time.
SELECT count(*) AS rows_checked, count(*) FILTER (WHERE {any_failing}) AS failing_rows, {failing}
FROM (
    SELECT {flags}
    FROM {table}
    WHERE {where}
)
