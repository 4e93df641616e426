SELECT dataset, version FROM splits.exports
QUALIFY row_number() OVER (PARTITION BY dataset ORDER BY created_at DESC) = 1
ORDER BY dataset
