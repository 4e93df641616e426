"""The names this project's OpenLineage output carries: the producer of its events and facets, the dataset
namespace and the column-lineage facet's schema. Apart from ``lineage.py`` (which derives the lineage with
sqlglot), so the OpenLineage sensor loads without sqlglot; ``lineage.py`` re-exports them."""

OPENLINEAGE_NAMESPACE = "duckdb"
OPENLINEAGE_SCHEMA_URL = (
    "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
)
OPENLINEAGE_PRODUCER = "urn:data_platform:provenance.lineage"
