-- One round of min-label propagation from {current} into {next}. A node's new label is the smallest of:
-- its own label, its neighbours' labels, the label of its label (pointer jumping) and, for a node that
-- is some node's label, that node's neighbours' labels (hooking). Every candidate is a node of the same
-- component and labels only decrease, so the rounds stop, and at the fixed point every component is
-- labelled with its smallest node. Jumping and hooking make long chains converge in few rounds.
CREATE OR REPLACE TEMP TABLE {next} AS
SELECT node, min(label) AS label
FROM (
    SELECT node, label FROM {current}
    UNION ALL
    SELECT e.dst, l.label FROM identity_edges e JOIN {current} l ON l.node = e.src
    UNION ALL
    SELECT l.node, p.label FROM {current} l JOIN {current} p ON p.node = l.label
    UNION ALL
    SELECT ls.label, ld.label
    FROM identity_edges e JOIN {current} ls ON ls.node = e.src JOIN {current} ld ON ld.node = e.dst
    WHERE ld.label < ls.label
)
GROUP BY node
