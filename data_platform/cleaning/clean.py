"""Cleaning as pure logic over the warehouse: raw.events of some days in, the clean layer out.

One call to :func:`clean_days` (re)builds clean.events, clean.filtered_events, clean.duplicates,
clean.unit_corrections and clean.consent_exclusions for ``[start_day, end_day)``, inside one transaction, one
day after the other (each day as a run of that day alone would build it), and writes no row of another day:
runs of different days write the lake at once without a commit conflict. :func:`publish_identity_map` builds the
current identity map, ``clean.identity_map``, a table of every day, once (its own asset):

1. deduplicate by event_id, keeping the earliest ingested copy (ties: file, then line), also when
   the copies sit on different days (within two days: a retry re-stamped across midnight); only the
   ids delivered more than once are ranked, and the day's events are a view over raw.events without
   the dropped copies (the rows are written once, into the clean tables);
2. run every rule of the registry (``rules.py``); a device-level hit removes all the device's events;
   a rule version declared bad (``provenance.invalidations``) is skipped, so its decisions are void (a
   version that corrects it runs from then on: ``rules.applied``), and
   events of an invalidated landing file or client version are removed as ``invalidated``;
3. detect app versions that send prices in cents (rule ``cents_by_app_version@1``: the version's
   prices are, item for item, ~100x the item's median; on such days an event without app_version
   priced ~100x its item's median is corrected too, rule ``cents_by_item_price@1``), and convert all
   prices to EUR with the reference rates (see :func:`load_fx_rates`): the currency code trimmed and
   upper-cased, the latest rate published on or before the event's day. A priced event whose currency
   has no such rate is set aside as ``unknown_currency`` (in clean.filtered_events, after every rule,
   kind ``set_aside``), so it is counted and the rest of the day flows on;
4. resolve identities from login events (``identity.py``): a day's rows get the person of the identity
   map as of the end of that day (every login up to it); ids are pseudonymised with a keyed hash;
5. redact personal data from free text and truncate IP addresses;
6. leave out the events of persons who opted out (``privacy.consent_history``) as of now.

:func:`publish_identity_map`: ``clean.identity_map``, the current map (every login landed so far), pseudonymised
with the same key; splits group examples by it.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb

from data_platform.base.pseudonyms import pseudonym_key, pseudonymise_sql
from data_platform.base.stage import SqlStep, StepGroup
from data_platform.cleaning.identity import IdentityStats, build_identity_map, identity_steps
from data_platform.cleaning.rules import RULES, RULESET_VERSION, applied
from data_platform.privacy.keys import PSEUDONYM_TABLES_BY_DAY, PSEUDONYM_TABLES_WHOLE, record_key_use
from data_platform.privacy.redaction import redact_sql, truncate_ip_sql
from data_platform.privacy.tables import ensure_tables as ensure_privacy_tables
from data_platform.resources import exact_median_sql, load_sql, rows, run_sql, transaction

FX_RATES_CSV = Path(__file__).resolve().parents[1] / "reference" / "fx_rates.csv"
FX_SOURCE = "ECB euro foreign exchange reference rates (eurofxref-hist.csv layout)"
SET_ASIDE = {"unknown_currency": "a priced event whose currency has no rate on or before the event's day"}
"""Why an event that no rule removed can still not enter clean.events (rule_id in clean.filtered_events)."""
CENTS_MIN_EVENTS = 50
CENTS_HISTORY_DAYS = 7  # a day's cents detection looks at that day and the 6 before it
DUPLICATE_DAYS = 2  # copies of an event are looked for this many days either side of its day
IDENTITY_AS_OF = "temp.identity_as_of"  # the identity map as of the end of the day being cleaned
CLEAN_TABLES = (
    "clean.events",
    "clean.filtered_events",
    "clean.duplicates",
    "clean.unit_corrections",
    "clean.consent_exclusions",
)


@cache
def fx_version(path: Path = FX_RATES_CSV) -> str:
    """The version of a rates file: ``ecb-<latest day>-<first 8 hex of its SHA-256>``, so a new day of
    rates or a corrected old one is a new version (and a new code version of the cleaning assets)."""
    data = Path(path).read_bytes()
    days = [row[0].strip() for row in csv.reader(data.decode("utf-8").splitlines()[1:]) if row]
    return f"ecb-{max(days, default='empty')}-{hashlib.sha256(data).hexdigest()[:8]}"


def load_fx_rates(con: duckdb.DuckDBPyConnection, path: Path = FX_RATES_CSV) -> str:
    """Replace ``reference.fx_rates`` with the rates of ``path``; return their version.

    The file is in the layout of the ECB's euro foreign exchange reference rates history
    (https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip, unzipped: ``eurofxref-hist.csv``):
    ``Date,USD,JPY,...`` then one line per published day with the units of each currency per 1 EUR,
    ``N/A`` where a currency has no rate. When the table already holds exactly this file's rates (the same
    version: the file's latest day and hash), nothing is read or written, so the clean runs of different days
    do not each rewrite a table they share (on the lake, concurrent rewrites conflict at commit). The table
    keeps one row per currency and published day
    (``rate_to_eur = 1 / units``, ``valid_from`` = that day) plus EUR = 1; the clean step takes, for each
    event, the latest rate on or before the event's day. A cell that is not a rate (bad date, bad
    code, a value that is not a positive number, a day given twice) is a ValueError naming it.
    """
    version = fx_version(Path(path))
    if run_sql(con, "cleaning/fx_rates_versions.sql").fetchall() == [(version,)]:
        return version
    run_sql(con, "cleaning/load_fx_rates.sql", {"path": str(path)})
    problems = rows(con, "cleaning/fx_rate_problems.sql")
    if problems:
        raise ValueError(
            f"{path} is not a reference-rates file: "
            + "; ".join(f"{p['day_text']} {p['currency']} {p['units_text']!r}: {p['problem']}" for p in problems)
        )
    run_sql(con, "cleaning/replace_fx_rates.sql", {"version": version, "source": f"{FX_SOURCE}: {Path(path).name}"})
    return version


@dataclass(frozen=True)
class CleanStats:
    """Counts of one cleaning call, for asset metadata and checks."""

    raw_rows: int
    duplicates: int
    filtered: int
    kept: int
    consent_excluded: int
    filtered_by_rule: dict[str, int]
    currencies_without_rate: list[dict]
    fx_rate_age_days: dict[str, int]
    fx_version: str
    cents_app_versions: list[dict]


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the clean and reference schemas and tables if they do not exist yet."""
    con.execute(load_sql("cleaning/create_tables.sql"))


CENTS_MEDIANS = {
    "item_median": exact_median_sql("priced", "item_id", "eur"),
    "version_median": exact_median_sql("version_ratios", "app_version", "ratio"),
}
"""The two medians of ``detect_cents_versions.sql`` (an item's EUR price, a version's ratio to it), computed from
a window (``sql/common/exact_median.sql``): its fragments, filled in once."""


@cache
def sql_fragments() -> dict[str, str]:
    """The SQL structure the clean step fills into its statements (pseudonyms, redaction, IP truncation)."""
    return {
        "anon_pseudonym": pseudonymise_sql("e.anon_id"),
        "user_pseudonym": pseudonymise_sql("e.user_id"),
        "person_pseudonym": pseudonymise_sql("coalesce(m.person_key, 'a:' || e.anon_id)"),
        "text_redacted": redact_sql("e.text"),
        "extra_redacted": redact_sql("e.extra::VARCHAR"),
        "ip_prefix": truncate_ip_sql("e.ip"),
        "identity_map": IDENTITY_AS_OF,
    }


def clean_days(
    con: duckdb.DuckDBPyConnection,
    start_day: dt.date,
    end_day: dt.date,
    run_id: str,
    *,
    now: dt.datetime | None = None,
    fx_rates: Path = FX_RATES_CSV,
) -> CleanStats:
    """(Re)build the clean layer for ``[start_day, end_day)``; see the module docstring. ``fx_rates``:
    the reference-rates file (:func:`load_fx_rates`).

    A range is cleaned day by day (in one transaction), each day exactly as a run of that day alone
    would clean it, so one range run, one run per day and reruns in any order give the same rows.
    """
    now = now or dt.datetime.now(dt.UTC)
    days = {"start_day": start_day, "end_day": end_day}
    key = {"pseudonym_key": pseudonym_key()}
    ensure_tables(con)
    ensure_privacy_tables(con)
    run_sql(con, "provenance/create_tables.sql")
    without_rate: dict[str, dict] = {}
    rate_age: dict[str, int] = {}
    with transaction(con):
        version = load_fx_rates(con, fx_rates)
        run_sql(con, "privacy/opted_out.sql", {"as_of": now})
        void = {(r["rule_id"], r["rule_version"]) for r in rows(con, "cleaning/void_rules.sql")}
        day = start_day
        while day < end_day:
            _clean_day(con, day, run_id, now, key, void, version)
            for r in rows(con, "cleaning/currencies_without_rate.sql"):
                seen = without_rate.setdefault(r["currency"], {**r, "events": 0})
                seen.update(
                    events=seen["events"] + r["events"],
                    first_day=min(seen["first_day"], r["first_day"]),
                    last_day=max(seen["last_day"], r["last_day"]),
                )
            for r in rows(con, "cleaning/fx_rate_age.sql"):
                rate_age[r["currency"]] = max(rate_age.get(r["currency"], 0), r["days"])
            day += dt.timedelta(days=1)
        # which key wrote these pseudonyms: a privacy request under another key stops before deleting anything
        record_key_use(con, PSEUDONYM_TABLES_BY_DAY, key["pseudonym_key"], run_id, now, (start_day, end_day))
    return CleanStats(
        **_day_counts(con, days),
        fx_version=version,
        fx_rate_age_days=dict(sorted(rate_age.items())),
        currencies_without_rate=sorted(without_rate.values(), key=lambda r: (-r["events"], r["currency"])),
    )


def publish_identity_map(
    con: duckdb.DuckDBPyConnection, run_id: str, *, now: dt.datetime | None = None
) -> IdentityStats:
    """(Re)build ``clean.identity_map``, the current map: a function of every login landed so far (every day of
    raw.events), whichever days were cleaned; splits group examples by it (see ``identity.py``). Its ids are
    pseudonymised with the key clean.events is, and the key's use is recorded, in one transaction.

    A day's clean rows never read it (they carry the map as of the end of their day, built by
    :func:`clean_days`), so it is built once after the days it reads, not by every day's run."""
    now = now or dt.datetime.now(dt.UTC)
    key = {"pseudonym_key": pseudonym_key()}
    ensure_tables(con)
    ensure_privacy_tables(con)
    with transaction(con):
        for step in identity_map_steps():
            if isinstance(step, StepGroup):
                identity = step.run(con)
            else:
                step.run(con, {"end_day": None, "crawler_pattern": RULES[0].params["pattern"], **key})
        record_key_use(con, PSEUDONYM_TABLES_WHOLE, key["pseudonym_key"], run_id, now)
    return identity


def identity_map_steps() -> tuple[SqlStep | StepGroup, ...]:
    """The statements that build ``clean.identity_map``, in the order :func:`publish_identity_map` runs them (its
    column lineage is derived from them, ``cleaning/stage.py``): every login link, the map, then pseudonyms."""
    return (
        SqlStep("cleaning/login_links.sql"),
        StepGroup(
            identity_steps("login_links", "clean.identity_map"), lambda con: build_identity_map(con, "login_links")
        ),
        SqlStep(
            "cleaning/pseudonymise_identity_map.sql",
            {
                "anon": pseudonymise_sql("anon_id"),
                "person": pseudonymise_sql("person_key"),
                "user": pseudonymise_sql("u"),
            },
        ),
    )


def clean_stats(con: duckdb.DuckDBPyConnection, days: dict[str, dt.date], run: CleanStats) -> CleanStats:
    """The counts of the clean layer for ``[start_day, end_day)`` as it stands (one day: a partition's
    metadata); what is not per day (the identity map, the rates the run used) comes from ``run``."""
    return dataclasses.replace(run, **_day_counts(con, days))


def _day_counts(con: duckdb.DuckDBPyConnection, days: dict[str, dt.date]) -> dict:
    counts = rows(con, "cleaning/check_accounting.sql", days)
    return {
        "raw_rows": sum(c["raw_rows"] for c in counts),
        "duplicates": sum(c["duplicate_rows"] for c in counts),
        "filtered": sum(c["filtered_rows"] for c in counts),
        "kept": sum(c["clean_rows"] for c in counts),
        "consent_excluded": sum(c["consent_excluded_rows"] for c in counts),
        "filtered_by_rule": {r["rule_id"]: r["n"] for r in rows(con, "cleaning/filtered_by_rule.sql", days)},
        "cents_app_versions": rows(con, "cleaning/unit_corrections_in_range.sql", days),
    }


def day_steps(void: frozenset[tuple[str, int]] | set[tuple[str, int]] = frozenset()) -> tuple[SqlStep | StepGroup, ...]:
    """Every statement that cleans one day, in the order :func:`_clean_day` runs them; the column
    lineage of clean.events is derived from this same list (``cleaning/stage.py``).

    ``void``: the (rule id, version) pairs declared bad, whose statements are left out (an invalidated
    rule version's decisions are void; a correction runs once it is invalidated: ``rules.applied``).
    Values of the moment (the day, the run, the key) are bound when a step runs (``SqlStep.run``).
    """
    rule_hits = tuple(
        SqlStep(
            f"cleaning/{'add_device_rule_hits' if rule.level == 'device' else 'add_event_rule_hits'}.sql",
            {"rule_sql": load_sql(rule.sql_name)},
            {"rule_id": rule.id, "rule_version": rule.version, "kind": rule.kind, "rank": rank, **rule.params},
        )
        for rank, rule in applied(void)
    )
    as_of = identity_steps("login_links", IDENTITY_AS_OF)
    return (
        SqlStep("cleaning/set_clean_day.sql"),
        SqlStep("cleaning/day_duplicates.sql", params={"duplicate_days": DUPLICATE_DAYS}),
        SqlStep("cleaning/day_events_view.sql"),
        SqlStep("cleaning/day_rates.sql"),
        SqlStep("cleaning/context_impressions.sql"),
        SqlStep("cleaning/create_rule_hits.sql"),
        *rule_hits,
        SqlStep("cleaning/add_invalidation_hits.sql"),
        SqlStep("cleaning/add_unknown_currency_hits.sql", params={"rank": len(RULES)}),
        SqlStep(
            "cleaning/detect_cents_versions.sql",
            CENTS_MEDIANS,
            params={"min_events": CENTS_MIN_EVENTS, "history_days": CENTS_HISTORY_DAYS},
        ),
        SqlStep("cleaning/item_price_medians.sql"),
        SqlStep("cleaning/login_links.sql"),
        StepGroup(as_of, lambda con: build_identity_map(con, "login_links", target=IDENTITY_AS_OF)),
        SqlStep("cleaning/day_devices.sql", sql_fragments()),
        SqlStep("cleaning/day_users.sql", sql_fragments()),
        *(SqlStep("cleaning/delete_range.sql", {"table": table}) for table in CLEAN_TABLES),
        SqlStep("cleaning/insert_duplicates.sql"),
        SqlStep("cleaning/insert_filtered_events.sql"),
        SqlStep("cleaning/insert_unit_corrections.sql"),
        SqlStep("cleaning/consent_excluded.sql"),
        SqlStep("cleaning/insert_consent_exclusions.sql"),
        SqlStep("cleaning/insert_clean_events.sql", sql_fragments()),
    )


def _clean_day(
    con: duckdb.DuckDBPyConnection,
    day: dt.date,
    run_id: str,
    now: dt.datetime,
    key: dict,
    void: set[tuple[str, int]],
    fx: str,
) -> None:
    """Clean one day inside the caller's transaction (the statements of :func:`day_steps`): every
    statement sees only what that day's rules look at, and person keys come from the identity map *as
    of the end of that day* (logins with event_date <= day), so a day's rows never depend on which
    other days a run covers (the map stays in ``temp.identity_as_of`` until the next day's)."""
    values = {
        "start_day": day,
        "end_day": day + dt.timedelta(days=1),
        "run_id": run_id,
        "ruleset_version": RULESET_VERSION,
        "fx_version": fx,
        "cleaned_at": now,
        "crawler_pattern": RULES[0].params["pattern"],
        **key,
    }
    for step in day_steps(void):
        step.run(con, values)
