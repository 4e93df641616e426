-- The 7-day {side} history of the impressions of [start_day, end_day) whose {key} falls in slice $slice
-- (ctr_stage_activity.sql): the events of the same {key} strictly before the impression and at most
-- 7 days earlier, ts in [t - 7 days, t). The count at t on day D is computed without a 7-day frame over
-- every event:
--   (the events of days D - 7 .. D - 1: per-day counts, summed)
--   - (the events of day D - 7 before t - 7 days) + (the events of day D before t)
-- the last two as one running sum over day D's events (+1 at ts) and day D - 7's (-1 at ts + 7 days).
-- So a day sorts two days of narrow events, not eight, whatever history the warehouse holds, and a slice
-- sorts only its own {key}s: the memory a statement needs does not grow with the day.
INSERT INTO ctr_{side}_history
WITH activity AS (
    SELECT event_row, is_impression, ts, event_date, owner
    FROM ctr_{side}_activity
    WHERE slice = $slice::UINTEGER  -- typed as the column: no cast of every row
),

owner_days AS (  -- events per {key} and day
    SELECT owner, event_date,
           count(*) FILTER (WHERE is_impression) AS impressions,
           count(*) FILTER (WHERE NOT is_impression) AS clicks
    FROM activity
    GROUP BY ALL
),

owner_week AS (  -- per {key} and impression day D: the events of D - 7 .. D - 1
    SELECT owner, event_date,
           sum(impressions) OVER previous_week AS impressions,
           sum(clicks) OVER previous_week AS clicks
    FROM owner_days
    WINDOW previous_week AS (PARTITION BY owner ORDER BY event_date - DATE '1970-01-01'
                             RANGE BETWEEN 7 PRECEDING AND 1 PRECEDING)
    QUALIFY event_date >= $start_day
),

signed AS (  -- day D's events counted at ts, day D - 7's taken back 7 days later
    SELECT event_row, is_impression, ts AS moment, event_date AS day, 1 AS sign, owner
    FROM activity
    WHERE event_date >= $start_day
    UNION ALL
    SELECT NULL, is_impression, ts + INTERVAL 7 DAY, (event_date + 7)::DATE, -1, owner
    FROM activity
    WHERE event_date < $end_day - INTERVAL 7 DAY
),

within_days AS (
    SELECT event_row, owner, day,
        coalesce(sum(sign) FILTER (WHERE is_impression) OVER same_day, 0) AS impressions,
        coalesce(sum(sign) FILTER (WHERE NOT is_impression) OVER same_day, 0) AS clicks
    FROM signed
    WINDOW same_day AS (PARTITION BY owner, day ORDER BY moment
                        RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING)
    QUALIFY event_row IS NOT NULL
)

SELECT w.event_row,
       (coalesce(o.impressions, 0) + w.impressions)::INTEGER AS impressions,
       (coalesce(o.clicks, 0) + w.clicks)::INTEGER AS clicks
FROM within_days w
LEFT JOIN owner_week o ON o.owner IS NOT DISTINCT FROM w.owner AND o.event_date = w.day
