-- Lake maintenance: how many retained snapshots taken before $older_than are kept because a published dataset
-- version records them ({exports}: splits.exports, or an empty stand-in before the first export).
-- sqlfluff:templater:placeholder:exports:splits.exports
SELECT count(*)
FROM ducklake_snapshots('lake') AS s
WHERE
    s.snapshot_time < $older_than
    AND s.snapshot_id IN (SELECT e.lake_snapshot FROM {exports} AS e)
