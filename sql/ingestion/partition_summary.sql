-- Counts for the metadata of one materialization of [start_day, end_day).
SELECT
    (SELECT count(*) FROM raw.events WHERE event_date >= $start_day AND event_date < $end_day) AS events,
    (SELECT count(*) FROM raw.quarantine
      WHERE partition_date >= $start_day AND partition_date < $end_day) AS quarantined,
    (SELECT count(DISTINCT file_id) FROM raw.landed_lines
      WHERE partition_date >= $start_day AND partition_date < $end_day) AS files,
    (SELECT count(*) FROM raw.files WHERE status = 'current') AS files_known
