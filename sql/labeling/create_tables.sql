-- Tables of the labeling stage.
CREATE SCHEMA IF NOT EXISTS labels;

-- Direct labels from feedback logs: one row per impression, features as of the impression's time.
CREATE TABLE IF NOT EXISTS labels.ctr_examples (
    impression_id VARCHAR,        -- the example's key
    event_date DATE,              -- the impression's UTC day: the daily partition
    impression_ts TIMESTAMPTZ,
    person_key VARCHAR, item_id VARCHAR, category VARCHAR,
    position BIGINT, position_bucket VARCHAR, price_eur DOUBLE, device VARCHAR, country VARCHAR,
    hour_of_day INTEGER, day_of_week INTEGER,
    -- point-in-time history: the 7 days before the impression, events strictly earlier than it
    user_impressions_7d BIGINT, user_clicks_7d BIGINT, item_impressions_7d BIGINT, item_clicks_7d BIGINT,
    predicted_ctr DOUBLE, model_version VARCHAR,
    label INTEGER,                -- 1: a click arrived within the attribution window
    label_status VARCHAR,         -- mature: the window had closed given the data seen; else provisional
    click_event_id VARCHAR, click_delay_s DOUBLE, clicks_on_impression BIGINT,
    attribution_window_s INTEGER, data_seen_until TIMESTAMPTZ,
    impression_event_id VARCHAR, source_file VARCHAR, source_line BIGINT,
    labeled_at TIMESTAMPTZ, label_run_id VARCHAR
);

-- Clicks that gave no label, and why: repeat clicks, clicks after the window, clicks before their
-- impression, clicks whose impression is unknown. Owned by the impression's day (else the click's).
CREATE TABLE IF NOT EXISTS labels.unattributed_clicks (
    click_event_id VARCHAR, impression_id VARCHAR, owner_date DATE, click_ts TIMESTAMPTZ,
    reason VARCHAR, delay_s DOUBLE, source_file VARCHAR, source_line BIGINT, label_run_id VARCHAR
);
