-- One round of min-label propagation from {current} into {next}. A node's new label is the smallest of:
-- its own label, its neighbours' labels, the label of its label (pointer jumping) and, for a node that
-- is some node's label, that node's neighbours' labels (hooking). Every candidate is a node of the same
-- component and labels only decrease, so the rounds stop, and at the fixed point every component is
-- labelled with its smallest node. Jumping and hooking make long chains converge in few rounds.
-- The edge labels are a MATERIALIZED CTE so that the filter on them cannot become a join condition:
-- left to itself, the optimizer once joined the two label tables on `<` first, a nested loop over
-- nodes x nodes (850M rows, 40 s a round on 41k nodes) instead of two hash joins along the edges.
CREATE OR REPLACE TEMP TABLE {next} AS
WITH edge_labels AS MATERIALIZED (
    SELECT e.dst, ls.label AS src_label, ld.label AS dst_label
    FROM identity_edges e JOIN {current} ls ON ls.node = e.src JOIN {current} ld ON ld.node = e.dst
)

SELECT node, min(label) AS label
FROM (
    SELECT node, label FROM {current}
    UNION ALL
    SELECT dst, src_label FROM edge_labels
    UNION ALL
    SELECT l.node, p.label FROM {current} l JOIN {current} p ON p.node = l.label
    UNION ALL
    SELECT src_label, dst_label FROM edge_labels WHERE dst_label < src_label
)
GROUP BY node
