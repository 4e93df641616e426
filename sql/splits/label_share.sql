-- Share of each label within each split, and within the whole ("all").
SELECT coalesce(split, 'all') AS split, label,
       count(*) / sum(count(*)) OVER (PARTITION BY coalesce(split, 'all')) AS share
FROM {table}
GROUP BY GROUPING SETS ((split, label), (label))
-- by position: output column 1 is coalesce(split, 'all'), the name split would be the input column
ORDER BY 1, 2  -- noqa: AM06
