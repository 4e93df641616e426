-- The rejects of one reader: gold files (under gold/) or annotation exports.
DELETE FROM labels.annotation_rejects WHERE (source_file LIKE 'gold/%') = $gold
