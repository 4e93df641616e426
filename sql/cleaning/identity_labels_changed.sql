-- How many labels the last round changed.
SELECT count(*) FROM identity_labels_next n JOIN identity_labels o USING (node) WHERE n.label <> o.label
