"""Personal data: redaction of free text, keyed pseudonyms, IP truncation, the PII scan."""
