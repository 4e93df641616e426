-- Device - user links through non-shared devices, stored in both directions (the graph is undirected).
CREATE OR REPLACE TEMP TABLE identity_edges AS
WITH pairs AS (
    SELECT DISTINCT dn.node AS device, un.node AS usr
    FROM {links} l
    JOIN identity_devices d USING (anon_id)
    JOIN identity_nodes dn ON dn.is_device AND dn.key = l.anon_id
    JOIN identity_nodes un ON NOT un.is_device AND un.key = l.user_id
    WHERE NOT d.is_shared_device
)

SELECT device AS src, usr AS dst FROM pairs
UNION ALL
SELECT usr, device FROM pairs
