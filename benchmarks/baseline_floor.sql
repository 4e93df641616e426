-- The engine's floor: the same ingest + dedup + normalise + direct-label + split work as the pipeline,
-- written by hand as one DuckDB script, with nothing a platform adds (no line numbers or provenance, no
-- quarantine with reasons: malformed lines are simply skipped, no rules, identity merge, checks, history
-- or run bookkeeping). benchmarks/bench_pipeline.py fills in {memory}, {threads}, {glob}, {fx} and {out}.
SET memory_limit = '{memory}';
SET threads = {threads};
SET preserve_insertion_order = FALSE;

-- ingest: every landing file, typed columns, malformed lines skipped
CREATE TEMP TABLE landed AS
SELECT * FROM read_json('{glob}', format = 'newline_delimited', ignore_errors = TRUE,
    columns = {{ event_id: 'VARCHAR', event_type: 'VARCHAR', ts: 'VARCHAR', anon_id: 'VARCHAR',
               user_id: 'VARCHAR', session_id: 'VARCHAR', impression_id: 'VARCHAR', item_id: 'VARCHAR',
               category: 'VARCHAR', position: 'BIGINT', price: 'DOUBLE', currency: 'VARCHAR',
               predicted_ctr: 'DOUBLE', model_version: 'VARCHAR', text: 'VARCHAR', rating: 'BIGINT',
               country: 'VARCHAR', device: 'VARCHAR', app_version: 'VARCHAR', user_agent: 'VARCHAR',
               ip: 'VARCHAR' }});

-- EUR rates from the file in the ECB's layout (Date, then units of each currency per EUR, N/A where none)
CREATE TEMP TABLE fx AS
SELECT upper(trim(currency)) AS currency, CAST("Date" AS DATE) AS day, 1 / CAST(units AS DOUBLE) AS rate_to_eur
FROM (UNPIVOT (SELECT * FROM read_csv('{fx}', header = TRUE, all_varchar = TRUE))
      ON COLUMNS(* EXCLUDE ("Date")) INTO NAME currency VALUE units)
WHERE length(trim(currency)) = 3 AND trim(units) <> 'N/A'
UNION ALL
SELECT 'EUR', DATE '1999-01-01', 1.0;

-- dedup (one row per event id) + normalise (UTC timestamps from ISO strings or epoch milliseconds,
-- trimmed lower-case codes, prices in EUR at the latest rate on or before the event's day)
CREATE TABLE events AS
SELECT DISTINCT ON (l.event_id)
    l.event_id, l.event_type, l.ts, l.anon_id, l.user_id,
    coalesce(l.user_id, l.anon_id) AS person_id, l.impression_id, l.item_id,
    lower(trim(l.category)) AS category, l.position, l.price * fx.rate_to_eur AS price_eur,
    l.predicted_ctr, l.model_version, upper(trim(l.country)) AS country, lower(trim(l.device)) AS device
FROM (SELECT * REPLACE (coalesce(try_cast(ts AS TIMESTAMPTZ),
                              to_timestamp(try_cast(ts AS BIGINT) / 1000.0)) AS ts) FROM landed) l
ASOF LEFT JOIN fx ON fx.currency = upper(trim(l.currency)) AND CAST(l.ts AS DATE) >= fx.day
WHERE l.event_id IS NOT NULL AND l.ts BETWEEN TIMESTAMPTZ '2000-01-01' AND TIMESTAMPTZ '2100-01-01';

-- direct labels: an impression is clicked when a click on it arrives within 30 minutes
CREATE TABLE ctr_examples AS
SELECT i.impression_id, i.person_id, i.item_id, i.category, i.position, i.price_eur, i.predicted_ctr,
       i.model_version, i.ts::DATE AS example_date,
       (min(c.ts) IS NOT NULL)::INTEGER AS label
FROM events i
LEFT JOIN events c
    ON c.event_type = 'click' AND c.impression_id = i.impression_id
   AND c.ts >= i.ts AND c.ts <= i.ts + INTERVAL 30 MINUTE
WHERE i.event_type = 'impression'
GROUP BY ALL;

-- split by person: md5 bucket, 80 / 10 / 10
CREATE TABLE ctr_splits AS
SELECT *, CASE WHEN bucket < 0.8 THEN 'train' WHEN bucket < 0.9 THEN 'dev' ELSE 'test' END AS split
FROM (SELECT *, (md5_number(person_id) % 1000000) / 1000000.0 AS bucket FROM ctr_examples);

COPY ctr_splits TO '{out}' (FORMAT parquet);
