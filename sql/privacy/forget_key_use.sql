-- The records record_key_use.sql is about to replace: $tables on each day of [start_day, end_day), or the
-- whole tables ('*') when the range is NULL.
DELETE FROM privacy.pseudonym_keys
WHERE
    table_name IN (SELECT unnest($tables))
    AND (
        ($start_day IS NULL AND part = '*')
        OR ($start_day IS NOT NULL AND part != '*' AND part::DATE >= $start_day::DATE AND part::DATE < $end_day::DATE)
    )
