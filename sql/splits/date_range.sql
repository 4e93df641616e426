SELECT min(example_date), max(example_date) FROM {table}
