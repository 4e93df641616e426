-- Events with their person: the identity map's person_key, else the device's own key 'a:' || anon_id.
SELECT e.*, coalesce(m.person_key, 'a:' || e.anon_id) AS person_key
FROM {events} e
LEFT JOIN clean.identity_map m USING (anon_id)
