-- Devices with their login span and number of users; shared when they have more than $max_users.
CREATE OR REPLACE TEMP TABLE identity_devices AS
SELECT anon_id, count(DISTINCT user_id) AS n_users, min(ts) AS first_login_ts, max(ts) AS last_login_ts,
       count(DISTINCT user_id) > $max_users AS is_shared_device
FROM {links} WHERE anon_id IS NOT NULL AND user_id IS NOT NULL
GROUP BY anon_id
