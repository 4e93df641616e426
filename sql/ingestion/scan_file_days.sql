-- The landing sensor's cheap look at a file (streamed in as `landing_lines`): which days its lines
-- fall on, and whether some lines have no usable ts (they go to the file's earliest day).
SELECT coalesce(list(DISTINCT day ORDER BY day) FILTER (WHERE day IS NOT NULL), []::DATE[]) AS days,
       coalesce(bool_or(day IS NULL), FALSE) AS has_undated
FROM (
    SELECT CASE WHEN utf8_ok AND NOT too_long
                THEN event_day(event_ts(try(json_extract(line, '$.ts'))::VARCHAR), $min_ts, $max_ts) END AS day
    FROM landing_lines
)
