-- Share of each label within each split, and within the whole ("all").
SELECT coalesce(split, 'all') AS split, label,
       count(*) / sum(count(*)) OVER (PARTITION BY coalesce(split, 'all')) AS share
FROM {table}
GROUP BY GROUPING SETS ((split, label), (label))
ORDER BY 1, 2
