-- Every node starts labelled with itself.
CREATE OR REPLACE TEMP TABLE {labels} AS
SELECT node, node AS label FROM identity_nodes
