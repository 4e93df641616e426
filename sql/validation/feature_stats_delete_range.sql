-- Re-profiling a span replaces all of it: a day that lost all its rows loses its old statistics too.
DELETE FROM monitoring.feature_stats
WHERE table_name = $table_name AND partition_date >= $start_day AND partition_date < $end_day
