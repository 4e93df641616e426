-- Lake maintenance: the snapshots to expire, those taken before $older_than, except the current one and every
-- snapshot a published dataset version was read from ({exports}: splits.exports, or an empty stand-in before the
-- first export), which `data-platform dataset-version` reads back.
-- sqlfluff:templater:placeholder:exports:splits.exports
SELECT s.snapshot_id
FROM ducklake_snapshots('lake') AS s
WHERE
    s.snapshot_time < $older_than
    AND s.snapshot_id < (SELECT c.id FROM lake.current_snapshot() AS c)
    AND s.snapshot_id NOT IN (SELECT e.lake_snapshot FROM {exports} AS e WHERE e.lake_snapshot IS NOT NULL)
ORDER BY s.snapshot_id
