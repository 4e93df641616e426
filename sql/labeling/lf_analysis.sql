-- Labeling-function analysis (the Snorkel definitions, as fractions of all examples): coverage =
-- examples the LF votes on; overlaps = examples where it votes and at least one other LF votes too;
-- conflicts = examples where it votes and the votes on the example disagree; accuracy on gold = share
-- of its votes on gold examples that equal the gold label.
WITH per_example AS (
    SELECT example_id,
           count(*) FILTER (WHERE vote >= 0) AS voters,
           count(DISTINCT vote) FILTER (WHERE vote >= 0) AS distinct_votes
    FROM {matrix}
    GROUP BY example_id
)

SELECT m.lf, m.lf_version,
       list_sort(list(DISTINCT m.vote) FILTER (WHERE m.vote >= 0)) AS polarity,
       avg((m.vote >= 0)::INTEGER) AS coverage,
       avg((m.vote >= 0 AND p.voters >= 2)::INTEGER) AS "overlaps",
       avg((m.vote >= 0 AND p.distinct_votes >= 2)::INTEGER) AS conflicts,
       count(*) FILTER (WHERE m.vote >= 0 AND g.label IS NOT NULL) AS gold_votes,
       avg((m.vote = g.label)::INTEGER) FILTER (WHERE m.vote >= 0 AND g.label IS NOT NULL) AS gold_accuracy
FROM {matrix} m
JOIN per_example p USING (example_id)
LEFT JOIN {gold} g USING (example_id)
GROUP BY m.lf_index, m.lf, m.lf_version
ORDER BY m.lf_index
