-- Per impression day D of [start_day, end_day): the data it has seen, up to the latest event of D and of its
-- lookahead day D + 1 (an example is mature once its window closed before that).
CREATE OR REPLACE TEMP TABLE ctr_seen AS
WITH seen_by_date AS (
    SELECT event_date, max(ts) AS latest
    FROM clean.events
    WHERE event_date >= $start_day AND event_date < $end_day + INTERVAL 1 DAY
    GROUP BY event_date
)

SELECT d.event_date, max(s.latest) AS data_seen_until
FROM seen_by_date d
JOIN seen_by_date s ON s.event_date IN (d.event_date, d.event_date + 1)
WHERE d.event_date < $end_day
GROUP BY d.event_date
