-- One drift score of a feature (table, feature, comparison, metric) day by day up to $day, as
-- monitoring.drift holds it, and since when it has not been OK: the first WARN or ERROR day after the last
-- day it was neither (NULL when it is not WARN or ERROR on $day).
WITH series AS (
    SELECT
        day,
        value,
        warn,
        error,
        severity
    FROM monitoring.drift
    WHERE
        table_name = $table_name AND feature = $feature AND comparison = $comparison AND metric = $metric
        AND day <= $day
),

calm AS (
    SELECT max(day) AS last_calm
    FROM series
    WHERE severity NOT IN ('WARN', 'ERROR')
)

SELECT
    series.day,
    series.value,
    series.warn,
    series.error,
    series.severity,
    (
        SELECT min(s.day)
        FROM series AS s
        WHERE s.severity IN ('WARN', 'ERROR') AND s.day > coalesce(calm.last_calm, DATE '0001-01-01')
    ) AS moved_since
FROM series
CROSS JOIN calm
ORDER BY series.day
