"""Provenance and lineage: where each row came from (row lineage), which source columns each column is
computed from (column lineage, derived from the SQL), trace and impact queries over them."""
