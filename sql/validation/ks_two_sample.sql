-- Two-sample Kolmogorov-Smirnov statistic D = sup_x |F_a(x) - F_b(x)| of {column} between the rows of
-- {relation_a} and {relation_b}. The three fragments are SQL structure written in code (a column
-- expression and two relations, e.g. a subquery); values such as days are bound as $parameters.
--
-- NULL and NaN values are left out (compared as DOUBLE). Grouping by value gives one row per distinct
-- value with how many rows of each sample hold it, so the empirical CDFs are evaluated after all values
-- equal to x, whatever the number of ties; the supremum is reached at one of the pooled values. The
-- CDFs are the counts divided in DOUBLE, the arithmetic of scipy.stats.ks_2samp, so D matches it
-- exactly. An aggregate and one window over the distinct values (both spill to disk beyond the memory
-- limit): only one row leaves DuckDB. n_a = 0 or n_b = 0 gives a NULL statistic.
-- (noqa AL05 below: a relation fragment may be a subquery, which needs its alias)
WITH pooled AS (
    SELECT CAST({column} AS DOUBLE) AS v, 1 AS from_a FROM {relation_a} AS ks_a  -- noqa: AL05
    UNION ALL
    SELECT CAST({column} AS DOUBLE) AS v, 0 AS from_a FROM {relation_b} AS ks_b  -- noqa: AL05
),

by_value AS (
    SELECT v, sum(from_a) AS at_a, count(*) - sum(from_a) AS at_b
    FROM pooled
    WHERE v IS NOT NULL AND NOT isnan(v)
    GROUP BY v
),

cumulative AS (
    SELECT CAST(sum(at_a) OVER upto AS DOUBLE) AS cum_a,
           CAST(sum(at_b) OVER upto AS DOUBLE) AS cum_b,
           CAST(sum(at_a) OVER () AS DOUBLE) AS n_a,
           CAST(sum(at_b) OVER () AS DOUBLE) AS n_b
    FROM by_value
    WINDOW upto AS (ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)

SELECT CASE WHEN max(n_a) > 0 AND max(n_b) > 0 THEN max(abs(cum_a / n_a - cum_b / n_b)) END AS statistic,
       CAST(coalesce(max(n_a), 0) AS BIGINT) AS n_a,
       CAST(coalesce(max(n_b), 0) AS BIGINT) AS n_b
FROM cumulative
