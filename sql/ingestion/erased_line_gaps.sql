-- Lines of the current landing files that the parse store no longer holds (an erasure removed their rows):
-- the lines a file erasure may empty in the file itself, per file.
WITH numbered AS (
    SELECT
        file_id,
        source_file,
        file_sha256,
        compressed,
        unnest(range(1, lines + 1)) AS source_line
    FROM raw.files
    WHERE status = 'current'
)

SELECT
    n.file_id,
    n.source_file,
    n.file_sha256,
    n.compressed,
    list(n.source_line ORDER BY n.source_line) AS lines
FROM numbered AS n
ANTI JOIN raw.landed_lines AS l ON n.file_id = l.file_id AND n.source_line = l.source_line
GROUP BY ALL
ORDER BY n.source_file
