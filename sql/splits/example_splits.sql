SELECT example_id, split FROM {table}
