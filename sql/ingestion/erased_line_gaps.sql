-- Lines of the current landing files that the parse store no longer holds (an erasure removed their rows):
-- the lines a file erasure may empty in the file itself, per file. Only files with fewer parsed lines than
-- lines read are numbered out.
WITH short AS (
    SELECT
        f.file_id,
        f.source_file,
        f.file_sha256,
        f.compressed,
        f.lines
    FROM raw.files AS f
    LEFT JOIN (
        SELECT
            file_id,
            count(*) AS parsed
        FROM raw.landed_lines
        GROUP BY file_id
    ) AS p ON f.file_id = p.file_id
    WHERE f.status = 'current' AND coalesce(p.parsed, 0) < f.lines
),

numbered AS (
    SELECT
        file_id,
        source_file,
        file_sha256,
        compressed,
        unnest(range(1, lines + 1)) AS source_line
    FROM short
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
