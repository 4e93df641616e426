-- Parse and classify the lines of a group of landing files (streamed in as the relation `landing_lines`
-- with columns file_id, line_no, line, utf8_ok, too_long) into raw.landed_lines. Two paths, one statement:
-- - the fast path: a line that is a JSON object is read once into the contract's fields (json_transform:
--   string fields as text, numbers and ts as their JSON text) and once into the JSON types of all its
--   members (json_type(line, '$.*'), duplicates and unknown keys included); when these prove the line
--   keeps the contract (only known keys, each once, each of its type, required fields present, ranges
--   and ts in bounds: landing.py's _fast_path_fragments says how) it is accepted as read;
-- - every other line goes through the full classifier below, which parses it into a MAP of field ->
--   JSON value and gives it the first quarantine reason that applies, in the order of
--   contracts.QUARANTINE_REASONS (its expressions only run on those lines: a CASE on fast_ok).
-- The fast path only ever accepts a line the full classifier accepts too, with the same values
-- (data_platform_tests/test_ingestion_landing.py runs both on the same lines). Checks generated
-- from the contract.
-- A line of an erased subject ({erased}: data_platform/privacy/tombstones.py; the constant FALSE when no one
-- was erased) becomes a stub that keeps no content, only its place and the reason 'erased_subject':
-- landing counts the stubs and deletes them before its transaction commits.
INSERT INTO raw.landed_lines BY NAME
WITH scanned AS (
    -- json_valid first: json_transform on a malformed line raises, and try() would send the whole
    -- vector down DuckDB's row-by-row error path (10x slower)
    SELECT file_id, line_no, line, utf8_ok, too_long,
           CASE WHEN utf8_ok AND NOT too_long AND starts_with(line, '{{') AND json_valid(line) THEN
               {{ 'v': json_transform(line, '{fast_struct}'), 't': json_type(line, '$.*') }}
           END AS f
    FROM landing_lines
),

typed AS (
    -- v_<field>: the typed value (NULL when absent or null); jf_<field>: a number's or ts's JSON text
    SELECT file_id, line_no, line, utf8_ok, too_long, f,
           {fast_columns}
    FROM scanned
),

fast AS (
    SELECT *, coalesce({fast_ok}, FALSE) AS fast_ok
    FROM (SELECT *, ts_of(v_ts, starts_with(jf_ts, '"')) AS v_ts_value FROM typed)
),

parsed AS (
    -- m: NULL when the line is not a JSON object (the reason is worked out below), or took the fast path
    SELECT *,
           CASE WHEN {full_path} AND utf8_ok AND NOT too_long AND json_valid(line) THEN
               CASE WHEN json_type(line) = 'OBJECT' THEN json_transform(line, '"MAP(VARCHAR, JSON)"') END
           END AS m
    FROM fast
),

fields AS (
    -- j_<field>: the field's JSON text (NULL when absent or null); n_<field>: numeric value
    SELECT *,
           {field_json}
    FROM parsed
),

numbers AS (
    SELECT *,
           {numeric_values},
           CASE WHEN fast_ok THEN v_ts_value ELSE event_ts(j_ts) END AS ts_value,
           j_event_type ->> '$' AS et
    FROM fields
),

checked AS (
    SELECT *,
           CASE
               WHEN fast_ok THEN NULL
               WHEN line IS NULL THEN 'unreadable_file'
               WHEN too_long THEN 'line_too_long'
               WHEN NOT utf8_ok THEN 'invalid_utf8'
               WHEN m IS NULL THEN
                   CASE WHEN trim(line, E' \t\r') = '' THEN 'empty_line'
                        WHEN NOT json_valid(line) THEN 'not_json'
                        WHEN json_type(line) <> 'OBJECT' THEN 'not_an_object'
                        WHEN len(json_keys(line)) <> len(list_distinct(json_keys(line))) THEN 'duplicate_key'
                        ELSE 'not_json' END
               WHEN cardinality(m) <> len(list_distinct(map_keys(m))) THEN 'duplicate_key'
               WHEN j_event_type IS NULL OR j_event_type = '""' THEN 'missing_required_field'
               WHEN NOT starts_with(j_event_type, '"') THEN 'wrong_type'
               WHEN NOT list_contains({event_types}, et) THEN 'unknown_event_type'
               WHEN missing_field IS NOT NULL THEN 'missing_required_field'
               WHEN wrong_type_field IS NOT NULL THEN 'wrong_type'
               WHEN ts_value IS NULL THEN 'bad_ts'
               WHEN ts_value < $min_ts OR ts_value > $max_ts THEN 'ts_out_of_range'
               WHEN out_of_range_field IS NOT NULL THEN 'out_of_range'
           END AS reason
    FROM (
        SELECT *,
               {missing_field} AS missing_field,
               {wrong_type_field} AS wrong_type_field,
               {out_of_range_field} AS out_of_range_field
        FROM numbers
    )
),

marked AS (
    SELECT *, {erased} AS erased
    FROM (SELECT *, {subject_ids} FROM checked)
)

SELECT
    {typed_columns},
    CASE WHEN NOT erased THEN ts_value END AS ts,
    CASE WHEN NOT erased THEN CAST(timezone('UTC', ts_value) AS DATE) END AS event_date,
    CASE
        WHEN erased THEN NULL
        WHEN fast_ok THEN v_ts
        WHEN reason IS NULL THEN CASE WHEN starts_with(j_ts, '"') THEN j_ts ->> '$' ELSE j_ts END
    END AS ts_raw,
    CASE WHEN reason IS NULL AND NOT erased AND NOT fast_ok AND cardinality(m) > {known_present} THEN
        nullif(to_json(map_from_entries(
            list_filter(map_entries(m), e -> NOT list_contains({known_keys}, e.key)))), '{{}}')
    END AS extra,
    file_id,
    line_no AS source_line,
    $ingested_at::TIMESTAMPTZ AS ingested_at,
    $run_id AS run_id,
    -- NULL when ts is unusable: filled in afterwards with the earliest event day of the file
    event_day(ts_value, $min_ts, $max_ts) AS partition_date,
    CASE WHEN erased THEN 'erased_subject' ELSE reason END AS reason,
    CASE WHEN NOT erased THEN CASE reason
        WHEN 'missing_required_field' THEN coalesce(missing_field, 'event_type')
        WHEN 'wrong_type' THEN coalesce(wrong_type_field, 'event_type')
        WHEN 'unknown_event_type' THEN left(et, 200)
        WHEN 'bad_ts' THEN left(j_ts, 200)
        WHEN 'ts_out_of_range' THEN ts_value::VARCHAR
        WHEN 'out_of_range' THEN out_of_range_field
        WHEN 'line_too_long' THEN 'longer than ' || $max_line_bytes || ' bytes; the first ' || strlen(line) || ' kept'
    END END AS detail,
    CASE WHEN reason IS NOT NULL AND NOT erased THEN left(line, 65536) END AS raw_line
FROM marked
