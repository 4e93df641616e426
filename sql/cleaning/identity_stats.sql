-- Summary of clean.identity_map; users counts every user id of the links, including users seen only on
-- shared devices (who therefore have no person of their own).
SELECT count(*) AS devices,
       (SELECT count(DISTINCT user_id) FROM {links} WHERE anon_id IS NOT NULL) AS users,
       count(DISTINCT person_key) AS persons,
       count(DISTINCT person_key) FILTER (WHERE len(user_ids) > 1) AS merged_persons,
       count(*) FILTER (WHERE is_shared_device) AS shared_devices,
       coalesce(max(component_devices), 0) AS largest_component
FROM {target}
