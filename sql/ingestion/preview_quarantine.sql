-- One example line per reason for the UI. The raw line goes whole (up to 4,000 characters) to the preview,
-- which masks identifiers before it cuts the line short (metadata.markdown_table): cut first, an e-mail
-- address cut in half would no longer be recognised.
SELECT reason, detail, source_file, source_line, left(raw_line, 4000) AS raw_line
FROM raw.quarantine WHERE partition_date >= $start_day AND partition_date < $end_day
QUALIFY row_number() OVER (PARTITION BY reason ORDER BY source_file, source_line) = 1
ORDER BY reason
