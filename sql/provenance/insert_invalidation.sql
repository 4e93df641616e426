INSERT INTO provenance.invalidations VALUES ($id, $kind, $value, $reason, $who, now(), 'applying', NULL)
