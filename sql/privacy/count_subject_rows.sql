SELECT count(*) FROM {table} WHERE {predicate}
