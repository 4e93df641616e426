-- The person keys of an erased subject, as export rows carry them (group_key). Temporary, this connection only.
CREATE OR REPLACE TEMP TABLE erasure_person_keys AS
SELECT unnest($person_keys::VARCHAR[]) AS group_key
