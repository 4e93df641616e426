-- The examples of the impressions of [start_day, end_day) whose clean.events rowid is in [$first_row,
-- $end_row) (one slice, ctr_slices.sql): each impression's own columns read once from clean.events, joined by
-- rowid with what was staged narrow for the whole range: its person's and item's 7-day history
-- (insert_ctr_history.sql), its first click and whether it repeats an impression_id of its day
-- (ctr_stage_examples.sql), its day's data seen (ctr_stage_seen.sql). Each day's label comes from the clicks
-- staged for it (ctr_attribution.run_day) and its maturity from the data seen up to the end of its lookahead
-- day, as a run of that day alone would build them. No statement holds more than a slice of wide rows.
INSERT INTO labels.ctr_examples
WITH impressions AS (
    SELECT rowid AS event_row, *
    FROM clean.events
    WHERE event_type = 'impression' AND event_date >= $start_day AND event_date < $end_day
      AND rowid >= $first_row AND rowid < $end_row
),

person_history AS (
    SELECT * FROM ctr_person_history WHERE event_row >= $first_row AND event_row < $end_row
),

item_history AS (
    SELECT * FROM ctr_item_history WHERE event_row >= $first_row AND event_row < $end_row
),

impression_clicks AS (
    SELECT * FROM ctr_impression_clicks WHERE event_row >= $first_row AND event_row < $end_row
)

SELECT
    i.impression_id, i.event_date, i.ts AS impression_ts,
    i.person_key, i.item_id, i.category, i.position,
    CASE WHEN i.position = 1 THEN '1' WHEN i.position <= 3 THEN '2-3' WHEN i.position <= 10 THEN '4-10'
         ELSE '11+' END AS position_bucket,
    i.price_eur, i.device, i.country,
    hour(i.ts)::INTEGER AS hour_of_day, isodow(i.ts)::INTEGER AS day_of_week,
    p.impressions::BIGINT AS user_impressions_7d, p.clicks::BIGINT AS user_clicks_7d,
    h.impressions::BIGINT AS item_impressions_7d, h.clicks::BIGINT AS item_clicks_7d,
    i.predicted_ctr, i.model_version,
    CASE WHEN c.delay_s BETWEEN 0 AND $window_s THEN 1 ELSE 0 END AS label,
    CASE WHEN i.ts + to_seconds($window_s) <= s.data_seen_until THEN 'mature' ELSE 'provisional' END
        AS label_status,
    CASE WHEN c.delay_s BETWEEN 0 AND $window_s THEN c.click_event_id END AS click_event_id,
    CASE WHEN c.delay_s BETWEEN 0 AND $window_s THEN c.delay_s END AS click_delay_s,
    coalesce(c.clicks_on_impression, 0) AS clicks_on_impression,
    $window_s::INTEGER AS attribution_window_s, s.data_seen_until,
    i.event_id AS impression_event_id, i.source_file, i.source_line,
    now() AS labeled_at, $run_id AS label_run_id
FROM impressions i
JOIN person_history p ON p.event_row = i.event_row
JOIN item_history h ON h.event_row = i.event_row
LEFT JOIN impression_clicks c ON c.event_row = i.event_row
JOIN ctr_seen s ON s.event_date = i.event_date
WHERE NOT coalesce(c.repeated, FALSE)
