-- Rows of one export version built from the input: the impression (named by the row's provenance) or
-- the attributed click (through the current click labels) is among the input's events.
SELECT count(*) FROM read_parquet({files}) x
WHERE x.example_id IN (
    SELECT impression_id FROM labels.ctr_examples
    WHERE impression_event_id IN (SELECT event_id FROM impact_events)
        OR click_event_id IN (SELECT event_id FROM impact_events)
)
