-- The device and user tombstones landing tests every line against (pseudonyms under their key id).
CREATE OR REPLACE TEMP TABLE landing_tombstones AS
SELECT DISTINCT key_id, pseudonym FROM privacy.erased_identifiers WHERE list_contains($kinds, identifier_kind)
