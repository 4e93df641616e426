-- The raw reviews (one copy per event_id) of the days the labeled reviews come from, as the view the
-- rules read: a spam rule is evaluated here on the texts before redaction, with every review of those
-- days as context (removed ones too), whatever rule version ran when the days were cleaned.
CREATE OR REPLACE TEMP VIEW day_events AS
SELECT * FROM raw.events
WHERE event_type = 'review' AND event_date IN (SELECT DISTINCT event_date FROM labels.review_examples)
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ingested_at, source_file, source_line) = 1
