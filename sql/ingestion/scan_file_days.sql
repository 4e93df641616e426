-- The landing sensor's cheap look at a file (streamed in as `landing_lines`): which days its lines
-- fall on, and whether some lines have no usable ts (they go to the file's earliest day).
SELECT coalesce(list(DISTINCT day ORDER BY day) FILTER (WHERE day IS NOT NULL), []::DATE[]) AS days,
       coalesce(bool_or(day IS NULL), FALSE) AS has_undated
FROM (
    -- the test of the line goes innermost (a NULL ts has no day): around the macros, whose CASEs repeat their
    -- argument, it made DuckDB evaluate them under selection vectors at 9x the CPU
    SELECT event_day(
               event_ts(
                   CASE WHEN utf8_ok AND NOT too_long AND json_valid(line) THEN json_extract(line, '$.ts') END::VARCHAR
               ),
               $min_ts, $max_ts
           ) AS day
    FROM landing_lines
)
