SELECT label, label_status, attribution_window_s, label_run_id, impression_event_id, click_event_id
FROM labels.ctr_examples WHERE impression_id = $id
