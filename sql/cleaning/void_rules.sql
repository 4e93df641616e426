-- Rule versions declared bad: their decisions are void when a day is (re)cleaned.
SELECT split_part(value, '@', 1) AS rule_id, CAST(split_part(value, '@', 2) AS INTEGER) AS rule_version
FROM provenance.invalidations WHERE kind = 'rule'
