-- Monitoring findings on the dataset's days: the card's "known issues".
SELECT DISTINCT day, severity, table_name, feature, kind, severity = 'ERROR' AS is_error
FROM monitoring.anomalies
WHERE day BETWEEN $first AND $last
ORDER BY is_error DESC, day, table_name, feature
