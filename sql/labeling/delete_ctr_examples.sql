DELETE FROM labels.ctr_examples WHERE event_date >= $start_day AND event_date < $end_day
