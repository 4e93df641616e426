-- Each staged click's fate, per impression day it was staged for (run_day): the first click at or
-- after its impression and within the window labels it; every other click gets a reason.
-- owner_date: the impression's day, else the click's own day.
CREATE OR REPLACE TEMP TABLE ctr_attribution AS
SELECT *,
    CASE
        WHEN impression_ts IS NULL THEN 'unknown_impression'
        WHEN delay_s < 0 THEN 'before_impression'
        WHEN delay_s > $window_s THEN 'after_window'
        WHEN row_number() OVER (PARTITION BY run_day, impression_id, delay_s >= 0 AND delay_s <= $window_s
                                ORDER BY click_ts, click_event_id) > 1 THEN 'repeat_click'
    END AS reason,
    coalesce(impression_date, click_date) AS owner_date
FROM ctr_clicks
