-- Examples and positives per (group attribute value, split), for the fairness table: counted where the
-- rows are, so no example comes to Python. A missing attribute value is the group 'unknown'.
SELECT coalesce(e.{attribute}::VARCHAR, 'unknown') AS grp, s.split, count(*) AS examples,
       count(*) FILTER (WHERE s.label = $positive) AS positives
FROM {split_table} s
JOIN {source} e ON e.{id_column}::VARCHAR = s.example_id
GROUP BY ALL
