SELECT * FROM labels.annotations ORDER BY source_file, task_id, annotation_id
