-- Tables of the cleaning stage.
CREATE SCHEMA IF NOT EXISTS clean;
CREATE SCHEMA IF NOT EXISTS reference;

-- EUR reference rates (data_platform/reference/fx_rates.csv, in the ECB's layout), a dated table: one row
-- per currency and published day, valid until the currency's next row; version names the file.
CREATE TABLE IF NOT EXISTS reference.fx_rates (
    version VARCHAR, currency VARCHAR, rate_to_eur DOUBLE, valid_from DATE, source VARCHAR
);

-- Deduplicated, normalised, filtered events: what every later stage reads.
CREATE TABLE IF NOT EXISTS clean.events (
    event_id VARCHAR, event_type VARCHAR, ts TIMESTAMPTZ, event_date DATE,
    person_key VARCHAR,        -- pseudonymised person (identity map), else pseudonymised device
    anon_id VARCHAR,           -- pseudonymised
    user_id VARCHAR,           -- pseudonymised
    session_id VARCHAR, impression_id VARCHAR, item_id VARCHAR, category VARCHAR, position BIGINT,
    price_eur DOUBLE,          -- price in EUR, unit errors corrected
    price_raw DOUBLE, currency_raw VARCHAR,
    price_fix VARCHAR,         -- rule that corrected the price unit, e.g. cents_by_app_version@1
    predicted_ctr DOUBLE, model_version VARCHAR,
    text VARCHAR,              -- personal data replaced by <EMAIL>, <PHONE>, <URL>, <IP>, <CARD>
    rating BIGINT, country VARCHAR, device VARCHAR, app_version VARCHAR,
    ip_prefix VARCHAR,         -- IPv4 /24, IPv6 /48
    is_crawler_ua BOOLEAN,
    extra JSON,
    source_file VARCHAR, source_line BIGINT, file_sha256 VARCHAR,
    ruleset_version VARCHAR, fx_version VARCHAR, cleaned_at TIMESTAMPTZ, clean_run_id VARCHAR
);

-- Events a spam or bot rule removed, with the rule version that removed them; events of an invalidated
-- input (kind 'invalidated') and events set aside because they cannot be cleaned (kind 'set_aside',
-- rule_id the reason, e.g. unknown_currency) are here too.
CREATE TABLE IF NOT EXISTS clean.filtered_events (
    event_id VARCHAR, event_type VARCHAR, event_date DATE, anon_id VARCHAR,
    rule_id VARCHAR, rule_version INTEGER, kind VARCHAR, rules_matched VARCHAR[], ruleset_version VARCHAR,
    source_file VARCHAR, source_line BIGINT, file_sha256 VARCHAR, clean_run_id VARCHAR
);

-- Repeated deliveries of an event: the copy dropped and the copy kept.
CREATE TABLE IF NOT EXISTS clean.duplicates (
    event_id VARCHAR, event_date DATE, source_file VARCHAR, source_line BIGINT, file_sha256 VARCHAR,
    kept_source_file VARCHAR, kept_source_line BIGINT, clean_run_id VARCHAR
);

-- Unit corrections the cleaning applied, with the evidence.
CREATE TABLE IF NOT EXISTS clean.unit_corrections (
    event_date DATE, app_version VARCHAR, rule VARCHAR, median_ratio DOUBLE, events BIGINT, clean_run_id VARCHAR
);

-- Events left out because their person had opted out when the day was (re)cleaned.
CREATE TABLE IF NOT EXISTS clean.consent_exclusions (
    event_id VARCHAR, event_date DATE, clean_run_id VARCHAR
);
