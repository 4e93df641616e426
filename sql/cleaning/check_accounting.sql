-- Per day: raw rows = clean + filtered + duplicates + excluded by consent.
WITH raw AS (
    SELECT event_date, count(*) AS n FROM raw.events
    WHERE event_date >= $start_day AND event_date < $end_day GROUP BY event_date
),

kept AS (
    SELECT event_date, count(*) AS n FROM clean.events
    WHERE event_date >= $start_day AND event_date < $end_day GROUP BY event_date
),

filt AS (
    SELECT event_date, count(*) AS n FROM clean.filtered_events
    WHERE event_date >= $start_day AND event_date < $end_day GROUP BY event_date
),

dup AS (
    SELECT event_date, count(*) AS n FROM clean.duplicates
    WHERE event_date >= $start_day AND event_date < $end_day GROUP BY event_date
),

excl AS (
    SELECT event_date, count(*) AS n FROM clean.consent_exclusions
    WHERE event_date >= $start_day AND event_date < $end_day GROUP BY event_date
)

SELECT event_date, coalesce(raw.n, 0) AS raw_rows, coalesce(kept.n, 0) AS clean_rows,
       coalesce(filt.n, 0) AS filtered_rows, coalesce(dup.n, 0) AS duplicate_rows,
       coalesce(excl.n, 0) AS consent_excluded_rows
FROM raw FULL JOIN kept USING (event_date) FULL JOIN filt USING (event_date) FULL JOIN dup USING (event_date)
     FULL JOIN excl USING (event_date)
ORDER BY event_date
