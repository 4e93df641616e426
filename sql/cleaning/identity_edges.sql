-- Links through devices that are not shared, as graph edges.
CREATE OR REPLACE TEMP TABLE identity_edges AS
SELECT DISTINCT 'd:' || l.anon_id AS a, 'u:' || l.user_id AS b
FROM {links} l JOIN identity_devices d USING (anon_id)
WHERE NOT d.is_shared_device AND l.user_id IS NOT NULL
