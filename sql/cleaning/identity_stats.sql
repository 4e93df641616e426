SELECT count(*) AS devices,
       (SELECT count(DISTINCT u) FROM (SELECT unnest(user_ids) AS u FROM clean.identity_map)) AS users,
       count(DISTINCT person_key) AS persons,
       count(DISTINCT person_key) FILTER (WHERE len(user_ids) > 1) AS merged_persons,
       count(*) FILTER (WHERE is_shared_device) AS shared_devices,
       coalesce(max(component_devices), 0) AS largest_component
FROM clean.identity_map
