-- Append a relation computed in Python to a labels table, matching columns by name.
INSERT INTO {table} BY NAME SELECT * FROM {relation}
