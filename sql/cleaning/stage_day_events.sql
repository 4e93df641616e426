-- The raw events of [start_day, end_day), each delivery ranked: copy_rank 1 is the earliest
-- ingested copy of an event_id (ties: file, then line), later copies are duplicates.
CREATE OR REPLACE TEMP TABLE ranked_events AS
SELECT *,
       row_number() OVER (PARTITION BY event_id ORDER BY ingested_at, source_file, source_line) AS copy_rank
FROM raw.events
WHERE event_date >= $start_day AND event_date < $end_day
