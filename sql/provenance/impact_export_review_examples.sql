SELECT count(*) FROM read_parquet({files}) x WHERE x.example_id IN (SELECT event_id FROM impact_events)
