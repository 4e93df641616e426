-- Per {key} of {relation}: the median of {value} (column median) and the group's row count (column n), from
-- the rows sorted within each group (a window), not from median(): its state per group is a vector outside
-- DuckDB's buffer pool (about 200 MB on top of a full pool in the clean step at 10M events). The same values
-- as median(): the middle one of the non-NULL values (NULLs sort last), or for an even count lo * 0.5 + hi * 0.5
-- of the two middle ones, as DuckDB interpolates; NULL when there are none.
-- Filled into a statement as a CTE body by resources.exact_median_sql.
SELECT
    {key},
    CASE WHEN any_value(c) % 2 = 1 THEN min(v) ELSE min(v) * 0.5 + max(v) * 0.5 END AS median,
    any_value(n) AS n
FROM (
    SELECT
        {key},
        {value} AS v,
        row_number() OVER sorted AS k,
        count({value}) OVER (sorted ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS c,
        count(*) OVER (sorted ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS n
    FROM {relation}
    WINDOW sorted AS (PARTITION BY {key} ORDER BY {value} ASC NULLS LAST)
)
WHERE k IN ((c + 1) // 2, c // 2 + 1)
GROUP BY {key}
