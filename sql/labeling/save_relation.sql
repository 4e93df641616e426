-- Replace a labels table with a relation computed in Python (registered on the connection).
CREATE OR REPLACE TABLE {table} AS SELECT * FROM {relation}
