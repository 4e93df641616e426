-- The lake's data files and their bytes (Warehouse.maintain, before and after): `live` the files the current
-- snapshot reads (data files and delete files), `stored` every file the catalog still tracks, i.e. every
-- object in the bucket some retained snapshot reads, plus those waiting to be deleted.
WITH files AS (
    SELECT end_snapshot IS NULL AS live, file_size_bytes FROM __ducklake_metadata_lake.ducklake_data_file
    UNION ALL
    SELECT end_snapshot IS NULL AS live, file_size_bytes FROM __ducklake_metadata_lake.ducklake_delete_file
)

SELECT
    count(*) FILTER (WHERE live) AS live_files,
    coalesce(sum(file_size_bytes) FILTER (WHERE live), 0) AS live_bytes,
    count(*) + (SELECT count(*) FROM __ducklake_metadata_lake.ducklake_files_scheduled_for_deletion)
        AS stored_files,
    coalesce(sum(file_size_bytes), 0) AS stored_bytes,
    (SELECT count(*) FROM ducklake_snapshots('lake')) AS snapshots
FROM files
