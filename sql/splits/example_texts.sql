-- Each distinct text of a split table's examples as its words ($word_pattern: runs of letters and digits:
-- punctuation, emoji and the brackets of redaction placeholders dropped), with a digest of the words
-- and its examples and their groups (the person, or the example itself without one). Texts of fewer
-- than $min_words words are left out (stock phrases are not compared).
WITH texts AS (
    SELECT
        s.example_id,
        coalesce(s.group_key, s.example_id) AS unit_key,
        regexp_extract_all(lower(e.{text_column}), $word_pattern) AS words
    FROM {split_table} AS s
    INNER JOIN {source} AS e ON e.{id_column}::VARCHAR = s.example_id
    WHERE e.{text_column} IS NOT NULL
)

SELECT
    md5(array_to_string(words, ' ')) AS text_id,
    any_value(words) AS words,
    list(example_id ORDER BY example_id) AS examples,
    list(unit_key ORDER BY example_id) AS units
FROM texts
WHERE len(words) >= $min_words
GROUP BY text_id
ORDER BY text_id
