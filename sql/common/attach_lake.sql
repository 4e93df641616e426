-- Attach the DuckLake catalog of the lake profile (data_platform/resources.py attach_lake): {catalog} is its
-- quoted 'ducklake:...' string, {options} its DATA_PATH, and READ_ONLY / SNAPSHOT_VERSION when asked.
-- sqlfluff:templater:placeholder:catalog:'ducklake:x'
-- sqlfluff:templater:placeholder:options:DATA_PATH 'x'
ATTACH IF NOT EXISTS {catalog} AS lake ({options})  -- noqa: PRS
