-- Accounting for every current file with lines in [start_day, end_day): lines read must equal
-- accepted + quarantined + erased_subject (the lines of erased subjects, never stored), and on these
-- days the lines parsed must equal the rows now in raw.events plus raw.quarantine. Also catches rows
-- left from superseded file versions. Returns only the files where something does not add up.
WITH in_range AS (
    SELECT f.source_file, f.file_sha256, count(*) AS landed_in_range
    FROM raw.landed_lines l JOIN raw.files f USING (file_id)
    WHERE l.partition_date >= $start_day AND l.partition_date < $end_day
    GROUP BY ALL
),

ev AS (
    SELECT source_file, file_sha256, count(*) AS events_in_range
    FROM raw.events WHERE event_date >= $start_day AND event_date < $end_day
    GROUP BY ALL
),

qu AS (
    SELECT source_file, file_sha256, count(*) AS quarantined_in_range
    FROM raw.quarantine WHERE partition_date >= $start_day AND partition_date < $end_day
    GROUP BY ALL
),

per_file AS (
    SELECT coalesce(i.source_file, ev.source_file, qu.source_file) AS source_file,
           coalesce(i.file_sha256, ev.file_sha256, qu.file_sha256) AS file_sha256,
           f.status, f.lines, f.accepted, f.quarantined, f.erased_subject,
           coalesce(i.landed_in_range, 0) AS landed_in_range,
           coalesce(ev.events_in_range, 0) AS events_in_range,
           coalesce(qu.quarantined_in_range, 0) AS quarantined_in_range
    FROM in_range i
    FULL JOIN ev USING (source_file, file_sha256)
    FULL JOIN qu USING (source_file, file_sha256)
    LEFT JOIN raw.files f
        ON f.source_file = coalesce(i.source_file, ev.source_file, qu.source_file)
       AND f.file_sha256 = coalesce(i.file_sha256, ev.file_sha256, qu.file_sha256)
       AND f.status = 'current'
)

SELECT *,
       CASE
           WHEN status IS NULL THEN 'rows from a file version that is no longer current'
           WHEN lines <> accepted + quarantined + erased_subject
               THEN 'lines read <> accepted + quarantined + erased_subject'
           ELSE 'rows in raw.events + raw.quarantine <> lines parsed for these days'
       END AS problem
FROM per_file
WHERE status IS NULL
   OR lines <> accepted + quarantined + erased_subject
   OR events_in_range + quarantined_in_range <> landed_in_range
ORDER BY source_file
