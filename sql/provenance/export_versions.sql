SELECT version, path FROM splits.exports WHERE dataset = $dataset ORDER BY created_at DESC
