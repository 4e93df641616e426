-- The identity map leaves the transaction with pseudonyms only (same keyed hash as clean.events).
UPDATE clean.identity_map
SET anon_id = {anon}, person_key = {person}, user_ids = list_transform(user_ids, u -> {user})
