COPY (SELECT * FROM splits.ctr_examples_train_balanced ORDER BY is_synthetic, example_id)
TO '{path}' (FORMAT parquet, COMPRESSION zstd)
