-- Every node of the graph starts as its own label.
CREATE OR REPLACE TEMP TABLE identity_labels AS
SELECT node, node AS label FROM (SELECT a AS node FROM identity_edges UNION SELECT b FROM identity_edges)
