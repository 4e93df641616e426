-- Rows per group ({table}, {column} and {where} are checked identifiers; values are bound).
-- sqlfluff:templater:placeholder:where:WHERE TRUE
SELECT {column} AS grp, count(*) AS n FROM {table} {where} GROUP BY 1 ORDER BY 2 DESC
