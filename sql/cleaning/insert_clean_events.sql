-- Kept events: deduplicated, not removed by any rule, prices in EUR with unit errors corrected,
-- free text redacted, ip truncated, ids pseudonymised (once per id: day_devices.sql, day_users.sql),
-- each row stamped with the ruleset version.
INSERT INTO clean.events
WITH kept AS (
    SELECT e.*, r.rate_to_eur,
           -- cents_by_app_version@1: the event's app version sends cents. cents_by_item_price@1: on a day
           -- with such a version, an event without app_version priced ~100x its item's median is taken
           -- for cents too. (Plain joins and an expression: a LATERAL subquery was decorrelated into a
           -- join that copied and hashed every row.)
           CASE
               WHEN e.price IS NULL THEN NULL
               WHEN cv.app_version IS NOT NULL THEN 'cents_by_app_version@1'
               WHEN e.app_version IS NULL AND cents.any_version
                    AND e.price * r.rate_to_eur / im.median_eur BETWEEN 50 AND 200 THEN 'cents_by_item_price@1'
           END AS price_fix
    FROM day_events e
    ANTI JOIN rule_hits h ON h.event_id = e.event_id
    ANTI JOIN consent_excluded c ON c.event_id = e.event_id
    LEFT JOIN day_rates r ON r.currency = e.currency AND r.event_date = e.event_date
    LEFT JOIN item_price_medians im ON im.item_id = e.item_id
    LEFT JOIN cents_versions cv ON cv.app_version = e.app_version
    CROSS JOIN (SELECT count(*) > 0 AS any_version FROM cents_versions) cents
)

SELECT e.event_id, e.event_type, e.ts, e.event_date,
       d.person_key,
       d.anon_pseudonym AS anon_id,
       u.user_pseudonym AS user_id,
       e.session_id, e.impression_id, e.item_id, e.category, e.position,
       e.price * e.rate_to_eur / CASE WHEN e.price_fix IS NOT NULL THEN 100 ELSE 1 END AS price_eur,
       e.price AS price_raw, e.currency AS currency_raw,
       e.price_fix,
       e.predicted_ctr, e.model_version,
       {text_redacted} AS text,
       e.rating, e.country, e.device, e.app_version,
       {ip_prefix} AS ip_prefix,
       regexp_matches(lower(coalesce(e.user_agent, '')), $crawler_pattern) AS is_crawler_ua,
       ({extra_redacted})::JSON AS extra,
       e.source_file, e.source_line, e.file_sha256,
       $ruleset_version, $fx_version, $cleaned_at::TIMESTAMPTZ, $run_id
FROM kept e
LEFT JOIN day_devices d ON d.anon_id = e.anon_id
LEFT JOIN day_users u ON u.user_id = e.user_id
