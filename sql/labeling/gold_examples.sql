-- Gold answers as (example_id, class index): the shape the LF analysis joins on.
CREATE OR REPLACE TEMP VIEW gold_examples AS
SELECT review_id AS example_id, label_index AS label FROM labels.gold
