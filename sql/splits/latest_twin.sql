SELECT version FROM splits.twins WHERE dataset = $dataset ORDER BY created_at DESC LIMIT 1
