SELECT split, group_key FROM {table} WHERE example_id = $id
