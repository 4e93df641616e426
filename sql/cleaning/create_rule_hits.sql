CREATE OR REPLACE TEMP TABLE rule_hits (
    event_id VARCHAR, rule_id VARCHAR, rule_version INTEGER, kind VARCHAR, rank INTEGER
)
