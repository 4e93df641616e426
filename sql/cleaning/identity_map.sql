-- Device -> person. A linked device gets its component: 'u:' || the smallest user id in it, the sorted
-- user ids, the number of devices. A shared device, or one never linked to a user id, is its own person
-- 'a:' || anon_id with no user ids.
-- sqlfluff:templater:placeholder:target:TABLE a_table
CREATE OR REPLACE {target} AS
WITH labelled AS (
    SELECT n.node, n.is_device, n.key, l.label FROM identity_nodes n JOIN {labels} l USING (node)
),

components AS (
    SELECT label,
           list(key ORDER BY key) FILTER (WHERE NOT is_device) AS user_ids,
           count(*) FILTER (WHERE is_device) AS component_devices
    FROM labelled
    GROUP BY label
)

SELECT d.anon_id::VARCHAR AS anon_id,
       CASE WHEN c.label IS NULL THEN 'a:' || d.anon_id ELSE 'u:' || c.user_ids[1] END::VARCHAR AS person_key,
       coalesce(c.user_ids, []::VARCHAR[])::VARCHAR[] AS user_ids,
       coalesce(c.component_devices, 1)::BIGINT AS component_devices,
       d.is_shared_device::BOOLEAN AS is_shared_device,
       d.first_login_ts::TIMESTAMPTZ AS first_login_ts,
       d.last_login_ts::TIMESTAMPTZ AS last_login_ts,
       $rule::VARCHAR AS rule
FROM identity_devices d
LEFT JOIN labelled dl ON dl.is_device AND dl.key = d.anon_id
LEFT JOIN components c ON c.label = dl.label
ORDER BY d.anon_id
