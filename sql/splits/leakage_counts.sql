-- Groups (persons) found in more than one split, devices found in more than one split (whatever person
-- their examples were keyed to), example ids found more than once, and the concentration sum(w^2) of
-- the groups the buckets are drawn for (w: a cluster's share of the examples), which sets how far
-- hashed-by-group split shares can wander by chance (variance r(1 - r) * sum(w^2)).
SELECT
    (SELECT count(*) FROM (SELECT group_key FROM {table} WHERE group_key IS NOT NULL
                           GROUP BY group_key HAVING count(DISTINCT split) > 1)) AS groups_in_several_splits,
    (SELECT count(*) FROM (SELECT device_key FROM {table} WHERE device_key IS NOT NULL
                           GROUP BY device_key HAVING count(DISTINCT split) > 1)) AS devices_in_several_splits,
    (SELECT count(*) - count(DISTINCT example_id) FROM {table}) AS duplicate_examples,
    (SELECT sum(w * w) FROM (SELECT count(*) / sum(count(*)) OVER () AS w FROM {table}
                             GROUP BY coalesce(cluster_key, group_key, example_id))) AS concentration
