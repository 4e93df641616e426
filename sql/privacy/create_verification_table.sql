CREATE SCHEMA IF NOT EXISTS privacy;
-- Every verification of an erasure (privacy verify, the job's verify_erasures): when, with which key, whether
-- anything of the subject was found, in how many of how many places. Counts only, no identifier.
CREATE TABLE IF NOT EXISTS privacy.erasure_verifications (
    request_id VARCHAR, verified_at TIMESTAMPTZ, key_id VARCHAR, passed BOOLEAN, places BIGINT,
    places_with_hits BIGINT, seconds DOUBLE, run_id VARCHAR
)
