-- Scan 2 of the feature statistics of <table> over [start_day, end_day): counts per bucket.
--
-- The histogram edges found by scan 1 come in as parallel lists, one element per day ($edge_day) and,
-- per numeric feature k that needs histograms (<edge_lists>): lo_k (the min), w_k (the equal-width bin
-- width (max - min) / $bins, the edges being lo_k + i * w_k and the max) and inner_k, the inner edges of
-- the quantile histogram (ascending, padded with +inf to QHIST_BINS - 1), spread into columns q_k_1,
-- q_k_2... (<edge_columns>); all NULL on a day without histograms for the feature.
-- <values> computes each feature once per row: x_k (DOUBLE) for those numeric features, c_k (VARCHAR)
-- for the categoricals. <codes> computes per numeric feature
--
--   bin_k:  its equal-width bin, i with edge_i <= x < edge_(i+1), the last bin closed: the estimate
--           i_k = floor((x - lo) / w) is corrected by comparing x with the edges themselves (computed
--           with the arithmetic of the stored edges), so a value on an edge lands where numpy.histogram
--           puts it;
--   qbin_k: its quantile bin, the number of inner edges <= x (a binary search over q_k_1, q_k_2...);
--
-- and <pairs> turns each row into one struct_pack(f := k, bin, qbin, v) per feature (bin and qbin for
-- numeric features, v for categoricals). Counted by (day, feature, bin, qbin, value): a hash aggregate
-- that spills to disk. Categorical values are then ranked per (day, feature), count descending and ties
-- by value, and only the first $top_k (and the NULL bucket) leave DuckDB, with the distinct count and
-- the rows of the day. A numeric feature that may be discrete on a day (disc_k true: few distinct values
-- in scan 1) also gets v, its value as VARCHAR, on that day: its rows are kept whatever their rank (their
-- bins must all be counted), and distinct_count is then its exact number of values.
-- All fragments are generated in code (data_platform/validation/stats.py).
WITH edge_lists AS (
    SELECT unnest(CAST($edge_day AS DATE[])) AS day{edge_lists}
),

edges AS (
    SELECT day{edge_columns}
    FROM edge_lists
),

valued AS (
    SELECT CAST({partition} AS DATE) AS day, {values}
    FROM {table}
    WHERE {partition} >= $start_day AND {partition} < $end_day
),

estimated AS (
    SELECT *{estimates}
    FROM valued LEFT JOIN edges USING (day)
),

coded AS (
    SELECT day, {codes}
    FROM estimated
),

counted AS (
    SELECT day, p.f AS f, p.bin AS bin, p.qbin AS qbin, p.v AS v, count(*) AS n
    FROM (SELECT day, unnest({pairs}) AS p FROM coded) AS long_rows
    GROUP BY ALL
),

ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY day, f, v IS NULL ORDER BY n DESC, v) AS value_rank,
           count(v) OVER (PARTITION BY day, f) AS distinct_count,
           sum(n) OVER (PARTITION BY day, f) AS rows_in_day
    FROM counted
)

SELECT day, f, bin, qbin, v, n, distinct_count, rows_in_day
FROM ranked
WHERE v IS NULL OR value_rank <= $top_k OR bin IS NOT NULL
ORDER BY day, f, v IS NOT NULL, value_rank
