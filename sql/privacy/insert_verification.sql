INSERT INTO privacy.erasure_verifications
VALUES ($request_id, $verified_at, $key_id, $passed, $places, $places_with_hits, $seconds, $run_id)
