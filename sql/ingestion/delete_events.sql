-- Re-materializing days replaces them: drop what the previous materialization wrote.
DELETE FROM raw.events WHERE event_date >= $start_day AND event_date < $end_day
