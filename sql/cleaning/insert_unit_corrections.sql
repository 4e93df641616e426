INSERT INTO clean.unit_corrections
SELECT d.day, c.app_version, 'cents_by_app_version@1', c.ratio, c.n, $run_id
FROM cents_versions c,
    (SELECT DISTINCT event_date AS day FROM day_events WHERE app_version IN (SELECT app_version FROM cents_versions)) d
