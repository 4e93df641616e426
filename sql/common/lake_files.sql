-- The lake's data files and their bytes (Warehouse.maintain, before and after): `live` the files the current
-- snapshot reads (data files and delete files of tables that exist now), `stored` every file the catalog still
-- tracks, i.e. every object in the bucket some retained snapshot reads, plus those waiting to be deleted.
WITH files AS (
    SELECT table_id, end_snapshot, file_size_bytes FROM __ducklake_metadata_lake.ducklake_data_file
    UNION ALL
    SELECT table_id, end_snapshot, file_size_bytes FROM __ducklake_metadata_lake.ducklake_delete_file
),

marked AS (
    SELECT
        f.file_size_bytes,
        f.end_snapshot IS NULL AND f.table_id IN (
            SELECT t.table_id FROM __ducklake_metadata_lake.ducklake_table AS t WHERE t.end_snapshot IS NULL
        ) AS live
    FROM files AS f
)

SELECT
    count(*) FILTER (WHERE live) AS live_files,
    coalesce(sum(file_size_bytes) FILTER (WHERE live), 0) AS live_bytes,
    count(*) + (SELECT count(*) FROM __ducklake_metadata_lake.ducklake_files_scheduled_for_deletion)
        AS stored_files,
    coalesce(sum(file_size_bytes), 0) AS stored_bytes,
    (SELECT count(*) FROM ducklake_snapshots('lake')) AS snapshots
FROM marked
