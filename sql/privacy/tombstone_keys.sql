-- The key ids the device and user tombstones were made with.
SELECT DISTINCT key_id FROM privacy.erased_identifiers WHERE list_contains($kinds, identifier_kind) ORDER BY 1
