-- Examples and positives per (group attribute, attribute value, split), for the fairness table: counted
-- where the rows are, so no example comes to Python, and every attribute from one join of the split table
-- with its source ({attributes}: ``e.<column>::VARCHAR AS <column>`` per attribute, {names}: the columns).
-- A missing attribute value is the group 'unknown'.
SELECT attribute, coalesce(value, 'unknown') AS grp, split, count(*) AS examples,
       count(*) FILTER (WHERE label = $positive) AS positives
FROM (
    SELECT s.split, s.label, {attributes}
    FROM {split_table} s
    JOIN {source} e ON e.{id_column}::VARCHAR = s.example_id
)
UNPIVOT INCLUDE NULLS (value FOR attribute IN ({names}))
GROUP BY ALL
