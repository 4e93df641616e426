-- Examples of a published version without a label: left out of training and scoring, counted.
SELECT count(*) AS unlabeled FROM read_parquet($files) WHERE {label} IS NULL
