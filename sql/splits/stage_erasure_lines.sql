-- The landing lines an erasure emptied: an export row built from one of them is the erased subject's.
CREATE OR REPLACE TEMP TABLE erasure_lines AS
SELECT
    unnest($source_files::VARCHAR[]) AS source_file,
    unnest($source_lines::BIGINT[]) AS source_line
