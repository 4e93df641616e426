-- Replace a table with rows computed in Python (registered on the connection as {relation}).
CREATE OR REPLACE TABLE {table} AS SELECT * FROM {relation}
