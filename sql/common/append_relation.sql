-- Append rows computed in Python (registered as {relation}) to an existing table, matching columns by name.
INSERT INTO {table} BY NAME SELECT * FROM {relation}
