-- The next batch number and task id (batches are named batch-0001, batch-0002, ...).
SELECT coalesce(max(try_cast(substr(batch_id, 7) AS INTEGER)), 0) + 1, coalesce(max(task_id), 0) + 1
FROM labels.tasks
