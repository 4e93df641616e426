-- Erasure on the lake, 2 of 3: expire every snapshot but the current one (time travel before now ends).
CALL ducklake_expire_snapshots('lake', older_than => now())
