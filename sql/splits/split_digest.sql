-- The md5 of every exported row of one split, in example order: the content the version id hashes.
SELECT md5(string_agg({row_text}, chr(10) ORDER BY example_id))
FROM (
    SELECT {select}
    FROM {split_table} s
    JOIN {source} e ON e.{id_column}::VARCHAR = s.example_id
    WHERE s.split = $split
)
