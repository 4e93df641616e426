-- Events of invalidated inputs (a landing file pattern, a client version) leave the clean layer as
-- "invalidated", named by the invalidation id, ahead of any rule (rank -1).
INSERT INTO rule_hits
SELECT e.event_id, 'invalidation', i.invalidation_id, 'invalidated', -1
FROM day_events e
JOIN provenance.invalidations i
  ON (i.kind = 'source_file' AND e.source_file LIKE i.value) OR (i.kind = 'app_version' AND e.app_version = i.value)
