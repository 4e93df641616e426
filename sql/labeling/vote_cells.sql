-- The label matrix's cells in example order then LF order (reshaped to examples x LFs in Python).
SELECT vote FROM {matrix} ORDER BY example_id, lf_index
