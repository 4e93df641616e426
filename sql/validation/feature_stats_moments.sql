-- Scan 1 of the feature statistics of <table> over [start_day, end_day): per (day, numeric feature)
-- the moments and the exact quantiles at $probs (DuckDB quantile_cont, linear interpolation).
-- <pairs> is a list of struct_pack(f := <feature index>, x := CAST(<expression> AS DOUBLE)), one per
-- numeric (or text-length) feature, generated in code: each row of the table becomes one row per
-- feature, so the (day, feature) groups are finalized in parallel (a wide one-group-per-day
-- aggregate finalizes every quantile on one thread). A day without rows has no group.
-- Extreme finite values: a sum of squares of deviations beyond ~1e154 overflows, and DuckDB's
-- stddev_samp then fails the query ("out of range"), a sum of values near 1.8e308 becomes inf. So the
-- mean and std are also computed on the values scaled by 2^-600 (exact: a power of two) and scaled
-- back; that pair is used for a (day, feature) holding a value beyond $wide (2^480), where the scaled
-- squares of the small deviations underflow but are negligible next to the large ones. The std over
-- the values up to $wide never overflows (at most 2^40 rows), so ordinary days keep full precision.
SELECT day, p.f AS f,
       count(*) AS rows_in_day,
       count(p.x) AS non_null,
       count(*) FILTER (WHERE p.x = 0) AS zeros,
       min(p.x) AS min_value,
       max(p.x) AS max_value,
       CASE WHEN max(abs(p.x)) > $wide THEN avg(p.x * $down) * $up ELSE avg(p.x) END AS mean,
       CASE WHEN max(abs(p.x)) > $wide THEN stddev_samp(p.x * $down) * $up
            ELSE stddev_samp(p.x) FILTER (WHERE abs(p.x) <= $wide) END AS std,
       quantile_cont(p.x, $probs) AS probs,
       -- a HyperLogLog estimate: which (day, feature) may be discrete and gets its values counted in scan 2
       approx_count_distinct(p.x) AS approx_distinct,
       CAST(min(p.x) AS VARCHAR) AS min_text
FROM (
    SELECT CAST({partition} AS DATE) AS day, unnest({pairs}) AS p
    FROM {table}
    WHERE {partition} >= $start_day AND {partition} < $end_day
) AS long_rows
GROUP BY ALL
ORDER BY day, f
