-- The day's user ids, each pseudonymised once rather than once per row, and whether the user opted
-- out (as of now).
CREATE OR REPLACE TEMP TABLE day_users AS
SELECT user_id, user_pseudonym, user_pseudonym IN (SELECT subject_pseudonym FROM opted_out) AS opted_out
FROM (
    SELECT e.user_id, {user_pseudonym} AS user_pseudonym
    FROM (SELECT DISTINCT user_id FROM day_events WHERE user_id IS NOT NULL) e
)
