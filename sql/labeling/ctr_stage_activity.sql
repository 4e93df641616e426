-- The impressions and clicks the {side} history of [start_day, end_day) counts (days start_day - 7 to
-- end_day - 1), narrow: no example column rides along, and only {key} of the two keys. event_row is the
-- clean.events rowid of an impression of the range (the example it becomes, joined back by rowid in the same
-- transaction), else NULL. A hash of {key} picks the row's slice among $slices (insert_ctr_history.sql):
-- all events of one {key} fall in one slice, so a slice's running counts are exact.
CREATE OR REPLACE TEMP TABLE ctr_{side}_activity AS
SELECT
    CASE WHEN event_type = 'impression' AND event_date >= $start_day THEN rowid END AS event_row,
    event_type = 'impression' AS is_impression,
    ts, event_date, {key} AS owner,
    (hash({key}) % $slices::UBIGINT)::UINTEGER AS slice
FROM clean.events
WHERE event_type IN ('impression', 'click')
  AND event_date >= $start_day - INTERVAL 7 DAY AND event_date < $end_day
