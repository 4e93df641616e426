-- Keys that appear more than once in one partition of a table (the contract's unique key): the first
-- thousand, with how many keys are duplicated in all.
SELECT {keys}, count(*) AS copies, count(*) OVER () AS duplicated_keys
FROM {table}
WHERE {where}
GROUP BY ALL
HAVING count(*) > 1
ORDER BY copies DESC
LIMIT 1000
