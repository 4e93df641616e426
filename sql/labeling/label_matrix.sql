-- The label matrix in long form: one row per (example, labeling function), vote = class index or -1
-- (abstain). The fragment below is one SELECT per registered LF (its SQL expression), joined by UNION ALL.
CREATE OR REPLACE TABLE {target} AS
{lf_selects}
ORDER BY example_id, lf_index
