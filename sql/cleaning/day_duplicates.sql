-- Repeated deliveries of the events of [start_day, end_day): the copies of one event_id within $duplicate_days
-- days either side (a retried event re-stamped across midnight is still one event). The earliest ingested copy
-- is kept (ties: file, then line); every later copy on the days is a duplicate, listed with the copy kept
-- (which may sit on a neighbouring day). Only the event_ids delivered more than once are ranked, from the
-- key columns alone: the day's rows are never copied (the day_events view leaves these copies out).
-- nearby is NOT MATERIALIZED: read twice, it would otherwise be stored whole (every row of the 2 x
-- $duplicate_days + 1 days with its file name and hash), which spilled and grew faster than the rows; each
-- reference now scans only the columns it needs, the second one only for the repeated ids.
CREATE OR REPLACE TEMP TABLE day_duplicates AS
WITH nearby AS NOT MATERIALIZED (
    SELECT event_id, event_date, ingested_at, source_file, source_line, file_sha256
    FROM raw.events
    WHERE event_date >= $start_day - to_days($duplicate_days) AND event_date < $end_day + to_days($duplicate_days)
),

-- ids seen more than once, by a 64-bit hash of the id (a small fixed-size key to group on): two ids that
-- share a hash only send both to the ranking below, which partitions by the id itself
repeated AS (
    SELECT hash(event_id) AS id_hash
    FROM nearby
    GROUP BY id_hash
    HAVING count(*) > 1 AND bool_or(event_date >= $start_day AND event_date < $end_day)
),

ranked AS (
    SELECT event_id, event_date, source_file, source_line, file_sha256,
           row_number() OVER copies AS copy_rank,
           first_value(source_file) OVER copies AS kept_source_file,
           first_value(source_line) OVER copies AS kept_source_line
    FROM nearby
    WHERE hash(event_id) IN (SELECT id_hash FROM repeated)
    WINDOW copies AS (PARTITION BY event_id ORDER BY ingested_at, source_file, source_line)
)

SELECT event_id, event_date, source_file, source_line, file_sha256, kept_source_file, kept_source_line
FROM ranked
WHERE copy_rank > 1 AND event_date >= $start_day AND event_date < $end_day
