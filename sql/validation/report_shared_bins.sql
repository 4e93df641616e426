-- A numeric feature (or a text's length) on both sides of a drift comparison, counted on shared bins:
-- $bins equal-width bins over the pooled range of both sides (one bin when every value is the same), so
-- the report draws the two histograms on the same bars. NULL and NaN values are left out. One row per
-- side and non-empty bin, with the pooled range.
-- (noqa AL05 below: the sides fragment is a subquery, which needs its alias)
WITH sides AS (
    SELECT
        s.v,
        s.side
    FROM {sides} AS s  -- noqa: AL05
),

valued AS (
    SELECT
        side,
        CAST(v AS DOUBLE) AS v
    FROM sides
    WHERE v IS NOT NULL AND NOT isnan(CAST(v AS DOUBLE))
),

bounds AS (
    SELECT
        min(v) AS lo,
        max(v) AS hi
    FROM valued
)

SELECT
    valued.side,
    CASE
        WHEN bounds.hi = bounds.lo THEN 0
        ELSE least(CAST(floor((valued.v - bounds.lo) / (bounds.hi - bounds.lo) * $bins) AS INTEGER), $bins - 1)
    END AS bin,
    count(*) AS n,
    any_value(bounds.lo) AS lo,
    any_value(bounds.hi) AS hi
FROM valued
CROSS JOIN bounds
GROUP BY ALL
ORDER BY valued.side, bin
