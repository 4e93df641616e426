-- Scan 1 of the feature statistics of <table> over [start_day, end_day): per (day, numeric feature)
-- the moments and the exact quantiles at $probs (DuckDB quantile_cont, linear interpolation).
-- <pairs> is a list of struct_pack(f := <feature index>, x := CAST(<expression> AS DOUBLE)), one per
-- numeric (or text-length) feature, generated in code: each row of the table becomes one row per
-- feature, so the (day, feature) groups are finalized in parallel (a wide one-group-per-day
-- aggregate finalizes every quantile on one thread). A day without rows has no group.
SELECT day, p.f AS f,
       count(*) AS rows_in_day,
       count(p.x) AS non_null,
       count(*) FILTER (WHERE p.x = 0) AS zeros,
       min(p.x) AS min_value,
       max(p.x) AS max_value,
       avg(p.x) AS mean,
       stddev_samp(p.x) AS std,
       quantile_cont(p.x, $probs) AS probs
FROM (
    SELECT CAST({partition} AS DATE) AS day, unnest({pairs}) AS p
    FROM {table}
    WHERE {partition} >= $start_day AND {partition} < $end_day
) AS long_rows
GROUP BY ALL
ORDER BY day, f
