-- The split table of a dataset whose source table does not exist yet: no examples, the same columns
-- (in the same order) as assign.sql writes; test_event_subsets publishes such a dataset.
CREATE OR REPLACE TABLE {target} (
    example_id VARCHAR, group_key VARCHAR, cluster_key VARCHAR, device_key VARCHAR, label VARCHAR,
    example_date DATE, bucket DOUBLE, split VARCHAR, split_time VARCHAR
)
