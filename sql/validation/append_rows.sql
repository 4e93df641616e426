INSERT INTO {table} BY NAME SELECT * FROM {relation}
