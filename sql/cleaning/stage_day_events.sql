-- The raw events of [start_day, end_day), each delivery ranked among all copies of its event_id
-- within two days either side (a retried event re-stamped across midnight is still one event):
-- copy_rank 1 is the earliest ingested copy (ties: file, then line), later copies are duplicates.
CREATE OR REPLACE TEMP TABLE ranked_events AS
SELECT * FROM (
    SELECT *,
           row_number() OVER (PARTITION BY event_id ORDER BY ingested_at, source_file, source_line) AS copy_rank
    FROM raw.events
    WHERE event_date >= $start_day - INTERVAL 2 DAY AND event_date < $end_day + INTERVAL 2 DAY
)
WHERE event_date >= $start_day AND event_date < $end_day
