SELECT regexp_extract(filename, '([a-z]+)[.]parquet$', 1) FROM read_parquet({files}, filename = true) WHERE example_id = $id LIMIT 1
