-- Re-cleaning days replaces them ({table} is one of the stage's own tables).
DELETE FROM {table} WHERE event_date >= $start_day AND event_date < $end_day
