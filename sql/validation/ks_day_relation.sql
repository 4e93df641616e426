(SELECT * FROM {table} WHERE {partition_column} = $day)
