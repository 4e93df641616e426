-- Drop one of the identity step's working tables.
DROP TABLE IF EXISTS temp.main.{table}
