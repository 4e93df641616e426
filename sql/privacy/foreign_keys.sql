-- What was written with a key other than $key_id: per table and key, how many parts and their range.
SELECT table_name, key_id, count(*) AS parts, min(part) AS first_part, max(part) AS last_part
FROM privacy.pseudonym_keys
WHERE key_id <> $key_id
GROUP BY ALL
ORDER BY table_name, key_id
