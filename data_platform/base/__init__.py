"""The base layer: what every stage shares and that imports no stage.

- :data:`STAGES`: the lifecycle stages in dependency order. A stage may import the base layer and the
  stages before it, never one after it (``data_platform_tests/test_layers.py`` walks every module);
- ``tables.py``: the table-contract machinery (:class:`~data_platform.base.tables.TableContract`,
  chunked validation); ``lineage.py``: column lineage derived from SQL;
- ``pseudonyms.py``: keyed pseudonyms and what may be said of the key (cleaning, privacy, settings);
- ``keys.py``: the asset keys stages depend on; ``enums.py``: shared vocabularies (sentiments);
- ``stage.py``: :class:`~data_platform.base.stage.Stage`, what each stage declares once (tables with
  contracts, person columns for erasure, summary counts, the SQL steps lineage is derived from).

The top-level helper modules (``contracts.py`` the event contract, ``resources.py``, ``partitions.py``,
``metadata.py``, ``launch.py``, ``instance.py``, ``maintenance.py``) belong to this layer too. Above every stage
sit the modules that assemble them: ``catalog.py`` (collects the stages' declarations), ``definitions.py`` and
the ``cli`` package.
"""

STAGES: tuple[str, ...] = (
    "privacy",
    "ingestion",
    "cleaning",
    "labeling",
    "validation",
    "splits",
    "provenance",
    "flywheel",
    "training",
    "generator",
)
"""The stage packages of ``data_platform``, lowest first: each may import only those before it."""

ASSEMBLY: tuple[str, ...] = ("catalog", "definitions", "cli")
"""Top-level modules above every stage: they import stages to collect and wire their declarations."""
