SELECT (label || CASE WHEN is_synthetic THEN ' synthetic' ELSE ' real' END) AS what, count(*)
FROM splits.ctr_examples_train_balanced GROUP BY 1 ORDER BY 1
