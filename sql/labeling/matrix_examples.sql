SELECT DISTINCT example_id FROM {matrix} ORDER BY example_id
