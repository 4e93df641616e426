-- Lake maintenance: merge each table's small adjacent data files into files up to the target size (DuckLake's
-- target_file_size option, 512 MB by default), applying their delete files. The old files stay for the
-- snapshots that read them until those snapshots are expired.
CALL ducklake_merge_adjacent_files('lake')
