-- One round of min-label propagation; returns how many labels changed.
CREATE OR REPLACE TEMP TABLE identity_labels_next AS
SELECT node, min(label) AS label FROM (
    SELECT node, label FROM identity_labels
    UNION ALL SELECT e.b, l.label FROM identity_edges e JOIN identity_labels l ON l.node = e.a
    UNION ALL SELECT e.a, l.label FROM identity_edges e JOIN identity_labels l ON l.node = e.b
) GROUP BY node
