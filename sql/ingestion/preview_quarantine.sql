-- One example line per reason for the UI (raw lines cut short; they may hold personal data).
SELECT reason, detail, source_file, source_line, left(raw_line, 120) AS raw_line
FROM raw.quarantine WHERE partition_date >= $start_day AND partition_date < $end_day
QUALIFY row_number() OVER (PARTITION BY reason ORDER BY source_file, source_line) = 1
ORDER BY reason
