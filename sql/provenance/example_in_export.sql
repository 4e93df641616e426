SELECT regexp_extract(filename, '([a-z]+)[.]parquet$', 1)
FROM read_parquet({files}, filename = TRUE) WHERE example_id = $id LIMIT 1
