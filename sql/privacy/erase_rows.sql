-- Remove the subject's rows from one table ({table} and {predicate} come from the PERSON_TABLES registry).
DELETE FROM {table} WHERE {predicate}
