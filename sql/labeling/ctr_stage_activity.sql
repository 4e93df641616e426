-- The impressions and clicks the history features of [start_day, end_day) count (days start_day - 7 to
-- end_day - 1), narrow: no example column rides along. event_row is the clean.events rowid of an impression
-- of the range (the example it becomes, joined back by rowid in the same transaction), else NULL. A hash of
-- person_key (item_id) picks the row's person (item) slice among $slices (insert_ctr_history.sql): a
-- person's (item's) events all fall in one slice, so a slice's running counts are exact.
CREATE OR REPLACE TEMP TABLE ctr_activity AS
SELECT
    CASE WHEN event_type = 'impression' AND event_date >= $start_day THEN rowid END AS event_row,
    event_type = 'impression' AS is_impression,
    ts, event_date, person_key, item_id,
    (hash(person_key) % $slices::UBIGINT)::UINTEGER AS person_slice,
    (hash(item_id) % $slices::UBIGINT)::UINTEGER AS item_slice
FROM clean.events
WHERE event_type IN ('impression', 'click')
  AND event_date >= $start_day - INTERVAL 7 DAY AND event_date < $end_day
