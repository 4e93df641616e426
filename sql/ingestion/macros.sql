-- Session macros shared by the ingestion statements and the landing sensor's day scan.

-- ts_of(s, quoted): the instant of a raw `ts` given as its value `s` (the string's characters when
-- `quoted`, the number's JSON text when not): an ISO-8601 string that carries its offset (Z,
-- +hh:mm, +hhmm or +hh), or non-negative integer epoch milliseconds (at most 15 digits). NULL when
-- it is neither.
-- The offset must be a real one (hours 00-23, minutes 00-59, as RFC 3339 says): DuckDB's cast takes
-- any two digits, so '...T10:00:00+99:99' used to be accepted and silently moved the event 4 days
-- back, onto another partition (found by the reliability fuzz tests).
-- (noqa CP05 on the macro headers: sqlfluff reads macro parameters as data types)
CREATE OR REPLACE TEMP MACRO ts_of(s, quoted) AS (  -- noqa: CP05
    CASE
        WHEN quoted THEN
            CASE WHEN regexp_full_match(s,
                     '\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]([01]\d|2[0-3])(:?[0-5]\d)?)')
                 THEN try_cast(s AS TIMESTAMPTZ) END
        WHEN regexp_full_match(s, '[0-9]{1,15}') THEN make_timestamptz(s::BIGINT * 1000)
    END
);

-- event_ts(j): the same, from the field's JSON text (a string is quoted).
CREATE OR REPLACE TEMP MACRO event_ts(j) AS (  -- noqa: CP05
    ts_of(CASE WHEN starts_with(j, '"') THEN j ->> '$' ELSE j END, starts_with(j, '"'))
);

-- event_day(ts, min_ts, max_ts): the daily partition of an instant, NULL when it is out of range.
CREATE OR REPLACE TEMP MACRO event_day(ts, min_ts, max_ts) AS (  -- noqa: CP05
    CASE WHEN ts BETWEEN min_ts AND max_ts THEN CAST(timezone('UTC', ts) AS DATE) END
);
