"""Cleaning assets: clean/events and clean/filtered_events (daily, one step), clean/identity_map (the current map,
of every day)."""

import json

import dagster as dg

from data_platform.base.keys import CLEAN_EVENTS, IDENTITY_MAP, RAW_EVENTS
from data_platform.base.pseudonyms import key_status
from data_platform.cleaning.clean import SET_ASIDE, clean_days, clean_stats, fx_version, publish_identity_map
from data_platform.cleaning.rules import RULES, RULESET_VERSION, rules_markdown
from data_platform.cleaning.stage import CLEAN_EVENTS_CONTRACT, FILTERED_EVENTS_CONTRACT, STAGE
from data_platform.metadata import PartitionReport, StageClock, counts_text, markdown_table
from data_platform.partitions import WAREHOUSE_STEP, daily_check, daily_partitions, partition_days
from data_platform.privacy.aggregates import k_anonymous_counts
from data_platform.privacy.redaction import scan_for_pii
from data_platform.resources import LandingZone, Warehouse, repeated_key_hashes_sql, rows, run_sql

FILTERED_EVENTS = dg.AssetKey(["clean", "filtered_events"])

_GROUP = dict(group_name="cleaning", kinds={"duckdb", "python"}, owners=["team:data-platform"])
_COMMON = dict(
    **_GROUP,
    code_version=f"cleaning-1/{RULESET_VERSION}/{fx_version()}",
    partitions_def=daily_partitions,
)

# What a day's cleaning reads of raw.events, declared so that a backfill (one run per day, several at once)
# cleans a day only after ingesting what it reads: its rows read raw days D-6..D (cents detection,
# CENTS_HISTORY_DAYS) and D-2..D+2 (copies of an event on neighbouring days, DUPLICATE_DAYS); their person is
# the identity map as of the end of the day (every login up to D, so every earlier raw day): the step reads
# every raw day, and a backfill cleans after ingesting the range (days outside it are not waited for).
RAW_DAYS_READ = dg.AssetDep(RAW_EVENTS, partition_mapping=dg.AllPartitionMapping())

# Columns that carry free or categorical text (ids are pseudonyms or generated; ip_prefix is a
# deliberate /24): the PII scan reads these.
TEXT_COLUMNS = [
    "text",
    "extra",
    "category",
    "item_id",
    "model_version",
    "country",
    "device",
    "app_version",
    "currency_raw",
]

ACCOUNTING_CHECK = daily_check(
    "raw_rows_accounted",
    CLEAN_EVENTS,
    blocking=True,
    description="Per day: raw rows = clean rows + rows removed by a rule or set aside (e.g. unknown_currency) "
    "+ duplicate deliveries + rows excluded because their person opted out.",
)
CONTRACT_CHECK = daily_check(
    "clean_contract",
    CLEAN_EVENTS,
    blocking=True,
    description="event_id unique, required fields and provenance present, prices converted, every row "
    "stamped with the current ruleset version.",
)
PII_CHECK = daily_check(
    "no_personal_data",
    CLEAN_EVENTS,
    blocking=True,
    description="No email, phone, URL, IP or card number left in any text column of the day's rows.",
)


@dg.multi_asset(
    name="clean_layer",
    specs=[
        dg.AssetSpec(
            CLEAN_EVENTS,
            metadata={"dagster/column_schema": CLEAN_EVENTS_CONTRACT.table_schema()},
            description="Events every later stage reads: one row per event_id (earliest ingested copy), "
            "bots and spam removed by the versioned rules, prices in EUR with cents errors corrected, "
            "free text redacted, IPs truncated, ids pseudonymised with a keyed hash, a person_key from "
            "the identity map, and the ruleset version that let the row through.",
            deps=[RAW_DAYS_READ],
            **_COMMON,
        ),
        dg.AssetSpec(
            FILTERED_EVENTS,
            metadata={"dagster/column_schema": FILTERED_EVENTS_CONTRACT.table_schema()},
            description="Events a spam or bot rule removed, with the rule id and version that removed "
            "them and every rule that matched: what lets a bad rule version be traced and undone. Also the "
            "events of invalidated inputs, and events set aside because they cannot be cleaned (kind "
            "set_aside; rule_id unknown_currency: a price in a currency without a rate on or before its day).",
            deps=[RAW_DAYS_READ],
            **_COMMON,
        ),
    ],
    check_specs=[ACCOUNTING_CHECK, CONTRACT_CHECK, PII_CHECK],
    **WAREHOUSE_STEP,
)
def clean_layer(context: dg.AssetExecutionContext, warehouse: Warehouse, landing: LandingZone):
    """Deduplicate, filter, normalise and protect the raw events of the partition's days."""
    days = partition_days(context)
    clock = StageClock()
    report = PartitionReport(context)
    with warehouse.connect() as con:
        stats = clean_days(con, days["start_day"], days["end_day"], context.run.run_id)
        clock.lap("clean_s")
        truth = _bot_truth(landing)
        spam_ids = spam_truth(landing)
        report.describe(lambda day: _day_metadata(con, day, clean_stats(con, day, stats), truth, spam_ids))
        report.check(lambda day: _day_checks(con, day))
        clock.lap("checks_s")

    status = key_status()
    run = {"run_days": report.run_days, "run_stage_seconds": dg.MetadataValue.json(clock.laps)}
    yield from report.results(
        [CLEAN_EVENTS, FILTERED_EVENTS],
        run_metadata={
            CLEAN_EVENTS: {
                **run,
                "ruleset_version": RULESET_VERSION,
                "fx_version": stats.fx_version,
                # per currency, the most days between an event and the rate it took: a stale rates file shows here
                "fx_rate_age_days": dg.MetadataValue.json(stats.fx_rate_age_days),
                "currencies_without_rate": dg.MetadataValue.json(
                    [
                        {k: str(v) if k.endswith("_day") else v for k, v in c.items()}
                        for c in stats.currencies_without_rate
                    ]
                ),
                "pseudonym_key": dg.MetadataValue.json(status),
                **(
                    {"WARNING": "demo pseudonym key in use; set DATA_PLATFORM_PSEUDONYM_KEY"}
                    if status.get("warning")
                    else {}
                ),
                **STAGE.lineage_metadata("clean.events"),
            },
            FILTERED_EVENTS: {**run, "rules": dg.MetadataValue.md(rules_markdown())},
        },
    )


@dg.asset(
    key=IDENTITY_MAP,
    metadata={
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(n, t)
                for n, t in (
                    ("anon_id", "VARCHAR"),
                    ("person_key", "VARCHAR"),
                    ("user_ids", "VARCHAR[]"),
                    ("component_devices", "BIGINT"),
                    ("is_shared_device", "BOOLEAN"),
                    ("first_login_ts", "TIMESTAMPTZ"),
                    ("last_login_ts", "TIMESTAMPTZ"),
                    ("rule", "VARCHAR"),
                )
            ]
        )
    },
    # every day's logins: built once after the raw days it reads (in a backfill, after the range), and marked
    # stale by any newly ingested day
    deps=[RAW_EVENTS],
    code_version=f"identity-1/{RULESET_VERSION}",
    **_GROUP,
    # one run whatever the backfill's cut (Dagster allows no other policy on an unpartitioned asset), so a job run
    # over a range (dg launch --partition-range) takes it along; the warehouse steps' pool
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_STEP["pool"],
)
def identity_map(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Device (anon_id) to person, as of now: connected components of the login links of every day landed so
    far; a device seen with several user ids is shared and links nobody. Splits group examples by it; each
    day's clean rows carry the person as known at the end of their day (clean/events), not this map. One table
    of every day, built once per run (not by each day's clean run: days cleaned in parallel never rewrite it)."""
    clock = StageClock()
    with warehouse.connect() as con:
        stats = publish_identity_map(con, context.run.run_id)
    clock.lap("identity_s")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stats.devices,
            "persons": stats.persons,
            "users_merged": stats.merged_persons,
            "shared_devices": stats.shared_devices,
            "largest_component_devices": stats.largest_component,
            "propagation_rounds": stats.iterations,
            "run_stage_seconds": dg.MetadataValue.json(clock.laps),
            **STAGE.lineage_metadata("clean.identity_map"),
        }
    )


def _day_metadata(con, days, stats, truth: set[str], spam_ids: list[str] | None) -> dict[dg.AssetKey, dict]:
    """What clean/events and clean/filtered_events hold for one day."""
    cur = run_sql(con, "cleaning/domain_counts.sql", days)
    domains = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    by_country = k_anonymous_counts(
        con,
        "clean.events",
        "country",
        partition_column="event_date",
        start_day=days["start_day"],
        end_day=days["end_day"],
    )
    return {
        CLEAN_EVENTS: {
            "dagster/row_count": stats.kept,
            "raw_rows": stats.raw_rows,
            "duplicates_removed": stats.duplicates,
            "filtered_by_rules": stats.filtered,
            "excluded_by_consent": stats.consent_excluded,
            "cents_corrections": dg.MetadataValue.json(stats.cents_app_versions),
            "set_aside": dg.MetadataValue.json(_set_aside(stats.filtered_by_rule)),
            "values_outside_domains": dg.MetadataValue.json(domains),
            "events_per_country_k10": dg.MetadataValue.json(by_country),
        },
        FILTERED_EVENTS: {
            "dagster/row_count": stats.filtered,
            "by_rule": dg.MetadataValue.json(stats.filtered_by_rule),
            **(_bot_quality(con, days, truth) if truth else {}),
            **(
                {"spam_rule_quality": dg.MetadataValue.json(spam_rule_quality(con, days, spam_ids))}
                if spam_ids is not None
                else {}
            ),
        },
    }


def _day_checks(con, days) -> list[dg.AssetCheckResult]:
    """The clean layer's blocking checks on one day, each failure with its counts as the reason."""
    accounting = rows(con, "cleaning/check_accounting.sql", days)
    unbalanced = sum(
        abs(a["raw_rows"] - a["clean_rows"] - a["filtered_rows"] - a["duplicate_rows"] - a["consent_excluded_rows"])
        for a in accounting
    )
    cur = run_sql(
        con,
        "cleaning/check_clean_events.sql",
        {**days, "ruleset_version": RULESET_VERSION},
        repeated_key_hashes=repeated_key_hashes_sql("day_rows", "event_id"),
    )
    contract = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    checked = contract.pop("rows_checked")
    violations = {k: v for k, v in contract.items() if v}
    findings = scan_for_pii(con, "clean.events", TEXT_COLUMNS, partition_column="event_date", **days)
    return [
        dg.AssetCheckResult(
            check_name=ACCOUNTING_CHECK.name,
            asset_key=CLEAN_EVENTS,
            passed=not unbalanced,
            description=counts_text({"raw rows unaccounted for": unbalanced}) or None,
            metadata={
                "days": dg.MetadataValue.md(markdown_table([{k: str(v) for k, v in a.items()} for a in accounting])),
                "set_aside": dg.MetadataValue.json(
                    _set_aside({r["rule_id"]: r["n"] for r in rows(con, "cleaning/filtered_by_rule.sql", days)})
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name=CONTRACT_CHECK.name,
            asset_key=CLEAN_EVENTS,
            passed=not violations,
            description=counts_text(violations) or None,
            metadata={"rows_checked": checked, "violations": dg.MetadataValue.json(violations)},
        ),
        dg.AssetCheckResult(
            check_name=PII_CHECK.name,
            asset_key=CLEAN_EVENTS,
            passed=not findings,
            description=counts_text({f"{f.kind} in {f.table}.{f.column}": f.rows for f in findings}) or None,
            metadata={
                "findings": dg.MetadataValue.md(
                    markdown_table(
                        [
                            {
                                "table": f.table,
                                "column": f.column,
                                "kind": f.kind,
                                "rows": f.rows,
                                "masked_sample": ", ".join(f.masked_sample),
                            }
                            for f in findings
                        ]
                    )
                )
            },
        ),
    ]


def _set_aside(filtered_by_rule: dict[str, int]) -> dict[str, int]:
    """The rows set aside (not removed as spam or bots) among ``filtered_by_rule``, by rule@version."""
    return {rule: n for rule, n in filtered_by_rule.items() if rule.split("@")[0] in SET_ASIDE}


def _bot_truth(landing: LandingZone) -> set[str]:
    """Bot device ids the generator injected, from its manifests (present in demo and test data only)."""
    truth: set[str] = set()
    for path in sorted(landing.events_dir().glob("manifest-*.json")):
        truth |= set(json.loads(path.read_text())["bots"]["anon_ids"])
    return truth


def _bot_quality(con, days, truth: set[str]) -> dict:
    """Precision and recall of the bot rules at device level against the generator's ground truth."""
    seen = {r["anon_id"] for r in rows(con, "cleaning/devices_in_range.sql", days)}
    device_rules = [r.id for r in RULES if r.level == "device"]
    flagged = {
        r["anon_id"] for r in rows(con, "cleaning/bot_devices_in_range.sql", {**days, "device_rules": device_rules})
    }
    actual = truth & seen
    hits = len(flagged & actual)
    return {
        "bot_precision": round(hits / len(flagged), 4) if flagged else 1.0,
        "bot_recall": round(hits / len(actual), 4) if actual else 1.0,
        "bot_devices_flagged": len(flagged),
        "bot_devices_in_ground_truth": len(actual),
    }


def spam_truth(landing: LandingZone) -> list[str] | None:
    """Spam review ids the generator wrote, from its manifests (None: no manifest says, e.g. real logs)."""
    manifests = [json.loads(p.read_text()) for p in sorted(landing.events_dir().glob("manifest-*.json"))]
    known = [m["reviews"]["spam_event_ids"] for m in manifests if "spam_event_ids" in m.get("reviews", {})]
    return [i for ids in known for i in ids] if known else None


def spam_rule_quality(con, days, spam_ids: list[str]) -> dict[str, dict]:
    """Per rule version that matched a review of the days (and ``all rules``): reviews flagged, spam
    among them, precision (None when it flagged nothing) and recall against the ground truth
    ``spam_ids``; a rule matching a review counts whichever rule removed it."""
    found = rows(con, "cleaning/spam_rule_quality.sql", {**days, "spam_ids": spam_ids})
    total = next(r["spam_flagged"] for r in found if r["rule"] is None)
    return {
        r["rule"]: {
            "flagged": r["flagged"],
            "spam_flagged": r["spam_flagged"],
            "precision": round(r["spam_flagged"] / r["flagged"], 4) if r["flagged"] else None,
            "recall": round(r["spam_flagged"] / total, 4) if total else None,
            "spam_reviews": total,
        }
        for r in found
        if r["rule"] is not None
    }


CLEANING_ASSETS = (clean_layer, identity_map)
"""The cleaning group: the daily clean layer and the current identity map (what splits group examples by)."""
