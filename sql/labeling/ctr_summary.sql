-- Counts of one range's direct labels and clicks, for the asset metadata and the accounting check.
-- Run in the step that staged ctr_attribution.
SELECT
    (SELECT count(*) FROM labels.ctr_examples WHERE event_date >= $start_day AND event_date < $end_day) AS examples,
    (SELECT count(DISTINCT impression_id) FROM labels.ctr_examples
     WHERE event_date >= $start_day AND event_date < $end_day) AS distinct_impressions,
    (SELECT count(DISTINCT impression_id) FROM clean.events
     WHERE event_type = 'impression' AND event_date >= $start_day AND event_date < $end_day) AS clean_impressions,
    (SELECT count(*) FROM labels.ctr_examples
     WHERE event_date >= $start_day AND event_date < $end_day AND label = 1) AS positives,
    (SELECT count(*) FROM labels.ctr_examples
     WHERE event_date >= $start_day AND event_date < $end_day AND label_status = 'provisional') AS provisional,
    (SELECT count(*) FROM labels.ctr_examples
     WHERE event_date >= $start_day AND event_date < $end_day
       AND (label NOT IN (0, 1) OR label_status NOT IN ('mature', 'provisional')
            OR (label = 1) <> (click_event_id IS NOT NULL)
            OR click_delay_s < 0 OR click_delay_s > attribution_window_s
            OR least(user_impressions_7d, user_clicks_7d, item_impressions_7d, item_clicks_7d) < 0
            OR predicted_ctr IS NULL OR model_version IS NULL OR person_key IS NULL)) AS invalid_rows,
    (SELECT count(*) FROM ctr_attribution WHERE owner_date >= $start_day AND owner_date < $end_day) AS clicks_owned,
    (SELECT count(*) FROM labels.unattributed_clicks
     WHERE owner_date >= $start_day AND owner_date < $end_day) AS clicks_unattributed
