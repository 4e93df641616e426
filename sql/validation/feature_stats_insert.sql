-- Feature statistics rows computed in Python, bound column-wise as lists ($<column>), one element per
-- row; <columns> is generated from STATS_COLUMNS.
INSERT INTO monitoring.feature_stats BY NAME
SELECT {columns}
