-- Groups (persons) found in more than one split, and example ids found more than once.
SELECT
    (SELECT count(*) FROM (SELECT group_key FROM {table} WHERE group_key IS NOT NULL
                           GROUP BY group_key HAVING count(DISTINCT split) > 1)) AS groups_in_several_splits,
    (SELECT count(*) - count(DISTINCT example_id) FROM {table}) AS duplicate_examples
