"""provenance/invalidations: the audit log of invalidated inputs, and the check that nothing
downstream still traces to them."""

import dagster as dg

from data_platform.metadata import markdown_table
from data_platform.provenance.invalidate import DOWNSTREAM, counts, remaining
from data_platform.resources import Warehouse, existing_tables, rows, run_sql

INVALIDATIONS = dg.AssetKey(["provenance", "invalidations"])
GONE_CHECK = dg.AssetCheckSpec(
    "invalidated_inputs_gone",
    asset=INVALIDATIONS,
    blocking=False,
    description="For every applied invalidation: no clean row, label, split or latest export traces to the "
    "invalidated file or client version, and an invalidated rule version has no decision left.",
)


@dg.asset(
    key=INVALIDATIONS,
    group_name="provenance",
    kinds={"duckdb"},
    owners=["team:data-platform"],
    code_version="invalidations-1",
    check_specs=[GONE_CHECK],
)
def invalidations(warehouse: Warehouse):
    """Inputs declared bad (a landing file pattern, a client version, a rule version): what, why, who,
    when, and rows tracing to each per table before and after it was applied (`data-platform invalidate`)."""
    with warehouse.connect() as con:
        run_sql(con, "provenance/create_tables.sql")
        log = rows(con, "provenance/invalidations.sql")
        audit = rows(con, "provenance/audit_rows.sql")
        present = existing_tables(con)
        latest = (
            [f"{r['dataset']} {r['version']}" for r in rows(con, "provenance/latest_exports.sql")]
            if "splits.exports" in present
            else []
        )
        left = {}
        for inv in log:
            if inv["status"] == "applied" and "raw.events" in present:
                still = remaining(counts(con, inv["kind"], inv["value"]), inv["kind"], latest)
                if still:
                    left[inv["invalidation_id"]] = still
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(log),
            "log": dg.MetadataValue.md(markdown_table([{k: str(v) for k, v in r.items()} for r in log])),
            "audit": dg.MetadataValue.md(markdown_table(audit)),
            "watched_tables": ", ".join(DOWNSTREAM),
        }
    )
    yield dg.AssetCheckResult(
        check_name=GONE_CHECK.name,
        passed=not left,
        metadata={"still_tracing": dg.MetadataValue.json({str(k): v for k, v in left.items()})},
    )
