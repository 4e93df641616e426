-- Every device of the login links: its login span, how many distinct user ids it was seen with, and
-- whether that is more than $max_users (a shared device: it links nobody). A device whose links all
-- lack a user id is kept too (0 users, never linked).
CREATE OR REPLACE TEMP TABLE identity_devices AS
SELECT anon_id,
       count(DISTINCT user_id) AS n_users,
       count(DISTINCT user_id) > $max_users AS is_shared_device,
       min(ts) AS first_login_ts,
       max(ts) AS last_login_ts
FROM {links}
WHERE anon_id IS NOT NULL
GROUP BY anon_id
