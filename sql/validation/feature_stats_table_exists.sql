-- Whether monitoring.feature_stats exists (reading statistics does not create it).
SELECT count(*) > 0 AS present FROM duckdb_tables()
WHERE database_name = current_database() AND schema_name = 'monitoring' AND table_name = 'feature_stats'
