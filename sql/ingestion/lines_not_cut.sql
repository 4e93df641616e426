-- Landed lines whose day has not been cut into raw.events / raw.quarantine yet (a day not materialized, or
-- outside the partitions: late events after the last day), per day.
SELECT
    l.partition_date,
    count(*) AS lines
FROM raw.landed_lines AS l
WHERE
    l.partition_date IS NULL
    OR (
        l.partition_date NOT IN (SELECT DISTINCT e.event_date FROM raw.events AS e)
        AND l.partition_date NOT IN (SELECT DISTINCT q.partition_date FROM raw.quarantine AS q)
    )
GROUP BY l.partition_date
ORDER BY l.partition_date
