SELECT {id_column}::VARCHAR AS example_id, {lf_index} AS lf_index, '{lf_name}' AS lf,
       {lf_version} AS lf_version, coalesce(({lf_sql})::INTEGER, -1) AS vote FROM {source}
