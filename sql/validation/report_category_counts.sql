-- A categorical feature on both sides of a drift comparison: the rows of each value per side, the $top
-- values with the largest share on either side named, every other value counted as NULL (the report's
-- "other values"). NULL values are left out, as in the drift metrics.
-- (noqa AL05 below: the sides fragment is a subquery, which needs its alias)
WITH sides AS (
    SELECT
        s.v,
        s.side
    FROM {sides} AS s  -- noqa: AL05
),

counted AS (
    SELECT
        side,
        CAST(v AS VARCHAR) AS v,
        count(*) AS n
    FROM sides
    WHERE v IS NOT NULL
    GROUP BY ALL
),

ranked AS (
    SELECT
        v,
        row_number() OVER (ORDER BY max(share) DESC, v) AS rank_by_share
    FROM (SELECT v, n / sum(n) OVER (PARTITION BY side) AS share FROM counted) AS shares
    GROUP BY v
)

SELECT
    counted.side,
    CASE WHEN ranked.rank_by_share <= $top THEN counted.v END AS value,
    sum(counted.n) AS n
FROM counted
INNER JOIN ranked ON counted.v = ranked.v
GROUP BY ALL
ORDER BY counted.side, min(ranked.rank_by_share)
