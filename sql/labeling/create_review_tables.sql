-- Tables of the human-labeling round trip (the rest are rebuilt whole by their assets).
CREATE SCHEMA IF NOT EXISTS labels;

-- Expert answers for gold items: trusted, used to score raters, LFs and the label model.
CREATE TABLE IF NOT EXISTS labels.gold (
    review_id VARCHAR, label VARCHAR, label_index INTEGER, labeled_by VARCHAR, source_file VARCHAR
);

-- Every task sent to raters, per batch, and why it was chosen (active | random | gold | label_error).
CREATE TABLE IF NOT EXISTS labels.tasks (
    batch_id VARCHAR, task_id BIGINT, review_id VARCHAR, selection VARCHAR, score DOUBLE,
    strategy VARCHAR, prediction VARCHAR, prediction_score DOUBLE, created_at TIMESTAMPTZ DEFAULT current_timestamp,
    run_id VARCHAR
);

-- Annotations read from Label Studio exports (completed, cancelled or empty), one per rater and task.
CREATE TABLE IF NOT EXISTS labels.annotations (
    source_file VARCHAR, task_id BIGINT, review_id VARCHAR, batch_id VARCHAR, rater VARCHAR,
    label VARCHAR, status VARCHAR, annotation_id BIGINT, created_at VARCHAR
);

-- What could not be used from annotation exports and gold files, with the reason.
CREATE TABLE IF NOT EXISTS labels.annotation_rejects (
    source_file VARCHAR, position BIGINT, reason VARCHAR, detail VARCHAR
);
