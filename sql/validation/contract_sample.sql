-- A few rows of one partition failing one contract check, with their row number in the partition.
SELECT {columns}
FROM (SELECT row_number() OVER () AS __row, * FROM {table} WHERE {where})
WHERE {failing}
ORDER BY __row
LIMIT $n
