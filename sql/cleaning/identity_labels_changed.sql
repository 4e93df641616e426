-- How many labels the last round changed (0: the labels are the connected components).
SELECT count(*) AS changed
FROM {next} n JOIN {current} c USING (node)
WHERE n.label <> c.label
