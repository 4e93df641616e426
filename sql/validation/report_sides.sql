-- The values of one feature on the two sides of a drift comparison, for the report's plots: the current
-- span of {current_table} and the reference span of {reference_table} ([start, end) of their partition
-- columns). {value} (the feature's SQL expression, or its length for a text), the tables and partition
-- columns are SQL structure written in code; the spans are bound. Included by the two plot queries.
SELECT
    {value} AS v,
    'current' AS side
FROM {current_table}
WHERE {current_column} >= $current_start AND {current_column} < $current_end
UNION ALL
SELECT
    {value} AS v,
    'reference' AS side
FROM {reference_table}
WHERE {reference_column} >= $reference_start AND {reference_column} < $reference_end
