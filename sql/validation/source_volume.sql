-- Rows per day of a source's table over its last 7 days of data.
SELECT count(*) / greatest(count(DISTINCT {date_column}), 1) AS rows_per_day
FROM {table}
WHERE {date_column} > (SELECT max(latest.{date_column}) FROM {table} AS latest) - INTERVAL 7 DAY
