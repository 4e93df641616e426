INSERT INTO privacy.consent_history VALUES ($subject_kind, $subject_pseudonym, $status, $effective_at, $request_id)
