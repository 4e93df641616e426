-- The graph's nodes, numbered: user ids first (in user_id order), then the devices that link them.
-- Only links through non-shared devices make nodes; a shared device is no node of the graph.
CREATE OR REPLACE TEMP TABLE identity_nodes AS
SELECT row_number() OVER (ORDER BY is_device, key) AS node, is_device, key
FROM (
    SELECT DISTINCT l.user_id AS key, FALSE AS is_device
    FROM {links} l JOIN identity_devices d USING (anon_id)
    WHERE NOT d.is_shared_device AND l.user_id IS NOT NULL
    UNION ALL
    SELECT anon_id, TRUE FROM identity_devices WHERE NOT is_shared_device AND n_users > 0
)
