-- Device -> person: the component's smallest user id, or the device itself when it is shared.
CREATE OR REPLACE TABLE clean.identity_map AS
WITH components AS (
    SELECT label, list(substr(node, 3) ORDER BY node) FILTER (WHERE starts_with(node, 'u:')) AS user_ids,
           count(*) FILTER (WHERE starts_with(node, 'd:')) AS component_devices
    FROM identity_labels GROUP BY label
)
SELECT d.anon_id,
       CASE WHEN d.is_shared_device THEN 'a:' || d.anon_id ELSE 'u:' || c.user_ids[1] END AS person_key,
       CASE WHEN d.is_shared_device THEN []::VARCHAR[] ELSE c.user_ids END AS user_ids,
       CASE WHEN d.is_shared_device THEN 1 ELSE c.component_devices END AS component_devices,
       d.is_shared_device, d.first_login_ts, d.last_login_ts, $rule AS rule
FROM identity_devices d
LEFT JOIN identity_labels l ON l.node = 'd:' || d.anon_id
LEFT JOIN components c ON c.label = l.label
