-- Re-profiling replaces days: the rows of one table on the given days (other days and tables stay).
DELETE FROM monitoring.feature_stats WHERE table_name = $table_name AND list_contains($days, partition_date)
