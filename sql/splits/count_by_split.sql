SELECT split, count(*) AS examples FROM {table} GROUP BY split ORDER BY split
