-- Keys that appear more than once in one partition of a table (the contract's unique key): the first
-- thousand, with how many keys are duplicated in all. Hash first (common/repeated_key_hashes.sql): only the
-- rows whose key hash repeats are grouped by their keys, so the grouping of every row holds integers, not
-- every key (at 10M clean events a table of 10M id strings, which grew faster than the rows).
WITH scoped AS NOT MATERIALIZED (
    SELECT {keys} FROM {table} WHERE {where}
),

repeated_hashes AS (
    {repeated_key_hashes}
)

SELECT {keys}, count(*) AS copies, count(*) OVER () AS duplicated_keys
FROM scoped
WHERE hash({keys}) IN (SELECT key_hash FROM repeated_hashes)
GROUP BY ALL
HAVING count(*) > 1
ORDER BY copies DESC
LIMIT 1000
