"""The clean layer, run for real: raw ingestion then cleaning with dg.materialize over a temp DuckDB."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import re
import shutil

import dagster as dg
import pytest

from data_platform.base.keys import IDENTITY_MAP
from data_platform.base.pseudonyms import pseudonym_key, pseudonymise
from data_platform.base.tables import validate_partition
from data_platform.catalog import CONTRACTS
from data_platform.cleaning import assets as clean_layer_module
from data_platform.cleaning import clean as clean_module
from data_platform.cleaning import rules as rules_module
from data_platform.cleaning.assets import CLEANING_ASSETS, clean_layer, identity_map
from data_platform.cleaning.clean import FX_RATES_CSV
from data_platform.cleaning.rules import RULES, RULESET_VERSION, ruleset_version
from data_platform.generator import generate_logs
from data_platform.ingestion.assets import raw_ingestion
from data_platform.resources import LandingZone
from data_platform_tests.conftest import checks_by_name, event, query, write_lines

DAY = "2026-11-02"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def run_pipeline(warehouse, landing, partition=DAY):
    kwargs = (
        {"partition_key": partition}
        if isinstance(partition, str)
        else {
            "tags": {
                "dagster/asset_partition_range_start": partition[0],
                "dagster/asset_partition_range_end": partition[1],
            }
        }
    )
    result = dg.materialize(
        [raw_ingestion, *CLEANING_ASSETS],  # as daily_pipeline: the clean layer and the current identity map
        resources={"warehouse": warehouse, "landing": landing},
        **kwargs,
    )
    assert result.success
    return result


def ts(minute: int, second: int = 0, hour: int = 10) -> str:
    return f"2026-11-02T{hour:02d}:{minute:02d}:{second:02d}Z"


def imp(i, **kw):
    kw.setdefault("ts", ts(i % 60))
    kw.setdefault("anon_id", "human-1")
    return event(f"imp-ev-{i}", "impression", impression_id=f"imp-{i}", user_agent=CHROME, **kw)


def test_duplicates_keep_the_earliest_ingested_copy(warehouse, landing):
    write_lines(landing.events_dir() / "a.jsonl", [event("e1", ts=ts(1)), event("e2", ts=ts(2))], age_seconds=7200)
    run_pipeline(warehouse, landing)
    write_lines(landing.events_dir() / "b.jsonl", [event("e1", ts=ts(1)), event("e3", ts=ts(3))], age_seconds=60)
    result = run_pipeline(warehouse, landing)
    assert sorted(r[0] for r in query(warehouse, "SELECT event_id FROM clean.events")) == ["e1", "e2", "e3"]
    assert query(warehouse, "SELECT event_id, source_file, kept_source_file FROM clean.duplicates") == [
        ("e1", "b.jsonl", "a.jsonl")
    ]
    assert query(warehouse, "SELECT source_file FROM clean.events WHERE event_id = 'e1'") == [("a.jsonl",)]
    assert checks_by_name(result)["raw_rows_accounted"].passed


def test_every_rule_removes_what_it_should_and_records_its_version(warehouse, landing):
    spam = "Free gift cards >>> www.free-cards.example.net <<< act now"
    lines = [
        imp(1),
        event("click-ok", "click", ts=ts(2), impression_id="imp-1", user_agent=CHROME, anon_id="human-1"),
        event("click-orphan", "click", ts=ts(3), impression_id="imp-nope", user_agent=CHROME, anon_id="human-1"),
        event(
            "crawl-1",
            "impression",
            ts=ts(4),
            impression_id="imp-c1",
            anon_id="crawler",
            user_agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            item_id="i",
            category="c",
            position=1,
            price=1,
            currency="EUR",
            predicted_ctr=0.1,
            model_version="m",
        ),
        event("crawl-2", "login", ts=ts(5), anon_id="crawler", user_agent="python-requests/2.32"),
    ]
    # a stealth bot: a browser user agent, 25 events a minute for 12 minutes
    lines += [
        imp(1000 + i, anon_id="stealth", ts=f"2026-11-02T11:{i // 25:02d}:{(i % 25) * 2:02d}Z") for i in range(25 * 12)
    ]
    lines += [
        event(f"spam-{d}", "review", ts=ts(10 + d), anon_id=f"spammer-{d}", text=spam, user_agent=CHROME)
        for d in range(3)
    ]
    lines += [
        event(
            "links",
            "review",
            ts=ts(20),
            text="see http://a.example.com and https://b.example.org",
            user_agent=CHROME,
            anon_id="human-2",
        ),
        event(
            "one-link",
            "review",
            ts=ts(21),
            text="Nice, specs at www.shop.example.com",
            user_agent=CHROME,
            anon_id="human-3",
        ),
    ]
    write_lines(landing.events_dir() / "a.jsonl", lines)
    result = run_pipeline(warehouse, landing)
    removed = dict(query(warehouse, "SELECT event_id, rule_id || '@' || rule_version FROM clean.filtered_events"))
    assert removed["click-orphan"] == "click_without_impression@1"
    assert removed["crawl-1"] == removed["crawl-2"] == "crawler_user_agent@1"
    assert {removed[f"imp-ev-{1000 + i}"] for i in range(300)} == {"inhuman_event_rate@1"}
    assert {removed[f"spam-{d}"] for d in range(3)} == {"repeated_review_with_link@1"}
    assert removed["links"] == "link_heavy_review@2"
    kept = {r[0] for r in query(warehouse, "SELECT event_id FROM clean.events")}
    assert kept == {"imp-ev-1", "click-ok", "one-link"}
    assert query(warehouse, "SELECT DISTINCT ruleset_version FROM clean.events") == [(RULESET_VERSION,)]
    assert query(warehouse, "SELECT DISTINCT ruleset_version FROM clean.filtered_events") == [(RULESET_VERSION,)]
    assert all(c.passed for c in result.get_asset_check_evaluations())


def test_prices_in_eur_and_a_cents_app_version_is_corrected(warehouse, landing):
    lines = []
    for i in range(300):
        cents = i % 5 == 1  # a fifth of every item's traffic comes from a client that sends cents
        lines.append(
            event(
                f"p{i}",
                "impression",
                ts=ts(i % 60, i % 50),
                impression_id=f"imp-{i}",
                item_id=f"item-{i % 6}",
                price=(10 + i % 6) * (100 if cents else 1),
                currency="USD" if i % 3 == 0 else "EUR",
                app_version="3.2.0" if cents else "3.1.0",
                user_agent=CHROME,
                anon_id=f"h{i}",
            )
        )
    write_lines(landing.events_dir() / "a.jsonl", lines)
    run_pipeline(warehouse, landing)
    got = {
        r[0]: r[1:]
        for r in query(warehouse, "SELECT event_id, price_eur, price_raw, currency_raw, price_fix FROM clean.events")
    }
    assert len(got) == 300
    usd_per_eur = _ecb_rate(FX_RATES_CSV, "USD", dt.date(2026, 11, 2))
    for i in range(300):
        cents, usd = i % 5 == 1, i % 3 == 0
        expected = (10 + i % 6) * (1 / usd_per_eur if usd else 1.0)
        assert got[f"p{i}"][0] == pytest.approx(expected), i
        assert got[f"p{i}"][3] == ("cents_by_app_version@1" if cents else None)
    assert got["p1"][1:3] == (1100.0, "EUR") and got["p3"][1:3] == (13.0, "USD")
    [(app_version, rule, ratio)] = query(
        warehouse, "SELECT app_version, rule, median_ratio FROM clean.unit_corrections"
    )
    assert (app_version, rule) == ("3.2.0", "cents_by_app_version@1") and 50 < ratio < 200


def _ecb_rate(path, currency: str, day: dt.date) -> float:
    """Units of ``currency`` per EUR on the latest row on or before ``day`` of a file in the ECB layout,
    read with the csv module (independently of the SQL loader)."""
    with open(path, newline="") as fh:
        table = list(csv.DictReader(fh))
    usable = [(dt.date.fromisoformat(r["Date"]), r[currency]) for r in table if r[currency] not in ("N/A", "")]
    return float(max(u for u in usable if u[0] <= day)[1])


RATES = """Date,USD,JPY,GBP,KRW,
2026-11-03,1.2000,N/A,0.8000,N/A,
2026-11-02,1.1000,160.00,0.8500,N/A,
2026-10-30,1.0500,150.00,0.9000,1500.0,
"""


def test_rates_by_event_day_and_unknown_currencies_set_aside_not_blocking(warehouse, landing, tmp_path, monkeypatch):
    # Rates in the ECB layout: the latest rate on or before the event's day (Sunday 11-01 takes Friday
    # 10-30's), N/A skipped (JPY and KRW on 11-03 take their last published rate), codes trimmed and
    # upper-cased. A price in a currency without any rate (CHF is not in the file, XYZ is no currency)
    # is set aside as unknown_currency and counted, and the days' blocking checks pass: a JPY price
    # used to fail clean_contract and stop labels for the whole range.
    rates = tmp_path / "rates.csv"
    rates.write_text(RATES)
    monkeypatch.setattr(clean_layer_module, "clean_days", functools.partial(clean_module.clean_days, fx_rates=rates))
    day = {"2026-11-01": "2026-11-01T12:00:00Z", "2026-11-02": ts(5), "2026-11-03": "2026-11-03T09:00:00Z"}
    priced = [
        ("sun-usd", "2026-11-01", "USD", 10.0),
        ("mon-usd", "2026-11-02", " usd", 11.0),
        ("tue-usd", "2026-11-03", "USD", 12.0),
        ("mon-jpy", "2026-11-02", "JPY", 1600.0),
        ("tue-jpy", "2026-11-03", "JPY", 1600.0),
        ("low-eur", "2026-11-02", "eur", 5.0),
        ("krw", "2026-11-03", "KRW", 15000.0),
        ("chf", "2026-11-02", "CHF", 9.0),
        ("xyz", "2026-11-02", "XYZ", 1.0),
        ("jpy-sun", "2026-11-01", "JPY", 1500.0),
    ]
    lines = [
        event(e, "purchase", ts=day[d], price=p, currency=c, user_agent=CHROME, anon_id=f"h-{e}")
        for e, d, c, p in priced
    ]
    # a review that carries a currency (no price) and one in lower case: nothing to convert, both kept
    lines += [
        event("rev-cur", "review", ts=ts(7), currency="JPY", user_agent=CHROME, anon_id="h-r1"),
        event("rev-low", "review", ts=ts(8), currency="eur", user_agent=CHROME, anon_id="h-r2"),
    ]
    write_lines(landing.events_dir() / "a.jsonl", lines)
    result = run_pipeline(warehouse, landing, ("2026-11-01", "2026-11-03"))
    judged = {(c.check_name, c.partition): c for c in result.get_asset_check_evaluations()}
    assert all(judged[name, d].passed for name in ("clean_contract", "raw_rows_accounted") for d in day)
    kept = dict(query(warehouse, "SELECT event_id, price_eur FROM clean.events"))
    expected = {
        "sun-usd": 10 / _ecb_rate(rates, "USD", dt.date(2026, 11, 1)),
        "mon-usd": 11 / _ecb_rate(rates, "USD", dt.date(2026, 11, 2)),
        "tue-usd": 12 / _ecb_rate(rates, "USD", dt.date(2026, 11, 3)),
        "mon-jpy": 1600 / _ecb_rate(rates, "JPY", dt.date(2026, 11, 2)),
        "tue-jpy": 1600 / _ecb_rate(rates, "JPY", dt.date(2026, 11, 3)),
        "jpy-sun": 1500 / _ecb_rate(rates, "JPY", dt.date(2026, 11, 1)),
        "krw": 15000 / _ecb_rate(rates, "KRW", dt.date(2026, 11, 3)),
        "low-eur": 5.0,
    }
    assert expected["sun-usd"] == pytest.approx(10 / 1.05) and expected["tue-jpy"] == pytest.approx(10.0)
    assert {k: v for k, v in kept.items() if v is not None} == pytest.approx(expected)
    assert kept["rev-cur"] is None and kept["rev-low"] is None
    set_aside = query(warehouse, "SELECT event_id, rule_id, kind FROM clean.filtered_events ORDER BY 1")
    assert set_aside == [("chf", "unknown_currency", "set_aside"), ("xyz", "unknown_currency", "set_aside")]
    meta = result.asset_materializations_for_node("clean_layer")
    clean_meta = {m.partition: m.metadata for m in meta if m.asset_key == dg.AssetKey(["clean", "events"])}
    # set aside on the day of the two events, and only there
    assert {d: m["set_aside"].value for d, m in clean_meta.items()} == {
        "2026-11-01": {},
        "2026-11-02": {"unknown_currency@1": 2},
        "2026-11-03": {},
    }
    assert judged["raw_rows_accounted", "2026-11-02"].metadata["set_aside"].value == {"unknown_currency@1": 2}
    clean_meta = clean_meta["2026-11-02"]
    assert [(c["currency"], c["events"]) for c in clean_meta["currencies_without_rate"].value] == [
        ("CHF", 1),
        ("XYZ", 1),
    ]
    # Sunday's USD and Tuesday's JPY (N/A that day) took rates 2 and 1 days old, KRW's is 4 days old
    assert clean_meta["fx_rate_age_days"].value == {"JPY": 2, "KRW": 4, "USD": 2}
    assert clean_meta["fx_version"].value == clean_module.fx_version(rates)
    assert {r[0] for r in query(warehouse, "SELECT DISTINCT fx_version FROM clean.events")} == {
        clean_module.fx_version(rates)
    }
    with warehouse.connect() as con:  # the tables' own contracts (the pandera checks) hold too
        for table in ("clean.events", "clean.filtered_events"):
            report = validate_partition(con, CONTRACTS[table], dt.date(2026, 11, 1), dt.date(2026, 11, 4))
            assert report.passed and report.rows_checked, (table, report.failures)


def test_a_rates_file_with_a_bad_cell_is_refused_with_the_cell_named(warehouse, tmp_path):
    rates = tmp_path / "rates.csv"
    rates.write_text("Date,USD,JPY,\n2026-11-02,1.10,-3,\n2026-11-02,1.12,160,\n")
    with warehouse.connect() as con:
        clean_module.ensure_tables(con)
        with pytest.raises(ValueError, match=r"2026-11-02 JPY '-3': not a positive number") as error:
            clean_module.load_fx_rates(con, rates)
        assert "the same day and currency twice" in str(error.value)
        clean_module.load_fx_rates(con, FX_RATES_CSV)  # the shipped file loads
        assert con.execute("SELECT count(DISTINCT currency) FROM reference.fx_rates").fetchone()[0] >= 8


def test_personal_data_is_redacted_truncated_and_pseudonymised(warehouse, landing):
    write_lines(
        landing.events_dir() / "a.jsonl",
        [
            event(
                "r1",
                "review",
                ts=ts(1),
                text="Broken. Mail me at jane.doe@example.com or call +49 30 1234567",
                ip="203.0.113.57",
                anon_id="dev-1",
                user_id="jane",
                user_agent=CHROME,
            ),
            event("l1", "login", ts=ts(2), anon_id="dev-1", user_id="jane", user_agent=CHROME),
        ],
    )
    result = run_pipeline(warehouse, landing)
    [(text, ip, anon, user, person)] = query(
        warehouse, "SELECT text, ip_prefix, anon_id, user_id, person_key FROM clean.events WHERE event_id = 'r1'"
    )
    assert "jane.doe" not in text and "1234567" not in text and "<EMAIL>" in text and "<PHONE>" in text
    assert ip == "203.0.113.0"
    key = pseudonym_key()
    assert anon == pseudonymise("dev-1", key) and user == pseudonymise("jane", key)
    assert person == pseudonymise("u:jane", key)
    assert checks_by_name(result)["no_personal_data"].passed
    meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert meta["clean/events"]["pseudonym_key"].value["mode"] == "demo"


def test_ruleset_version_follows_every_rule_version_and_threshold():
    bumped = tuple(dataclasses.replace(r, version=r.version + 1) if r.id == "link_heavy_review" else r for r in RULES)
    retuned = tuple(
        dataclasses.replace(r, params={**r.params, "min_links": 3}) if r.id == "link_heavy_review" else r for r in RULES
    )
    assert len({ruleset_version(RULES), ruleset_version(bumped), ruleset_version(retuned)}) == 3
    assert RULESET_VERSION in clean_layer.specs_by_key[dg.AssetKey(["clean", "events"])].code_version
    # the version is a hash of the rule set, not of the order the rules are registered in
    assert re.fullmatch(r"rs-[0-9a-f]{8}", rules_module.RULESET_VERSION)
    assert ruleset_version(tuple(reversed(RULES))) == rules_module.RULESET_VERSION
    assert ruleset_version(RULES[1:]) != rules_module.RULESET_VERSION  # dropping a rule is a new version


@pytest.fixture(scope="module")
def incident_landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("incident")
    manifest = generate_logs(root, dt.date(2026, 11, 1), 4, 4000, seed=3, incidents=["cents_prices@2026-11-03"])
    return root, manifest


def test_generated_days_bots_found_cents_fixed_and_the_books_balance(incident_landing, tmp_path, warehouse):
    root, manifest = incident_landing
    shutil.copytree(root / "events", tmp_path / "l" / "events")
    landing = LandingZone(root=str(tmp_path / "l"), settle_seconds=0)
    days = sorted(manifest["valid_lines_by_event_day"])
    result = run_pipeline(warehouse, landing, (days[0], days[-1]))
    assert all(c.passed for c in result.get_asset_check_evaluations()), [
        (c.check_name, c.metadata) for c in result.get_asset_check_evaluations() if not c.passed
    ]
    per_day = [
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "clean/filtered_events"
    ]
    # recall and precision are measured per day against the generator's bots (they default to 1.0 without
    # any): the days with bots must exist, and on each of them every bot is found
    judged = [m for m in per_day if m["bot_devices_in_ground_truth"].value > 0]
    assert judged and max(m["bot_devices_in_ground_truth"].value for m in judged) <= len(manifest["bots"]["anon_ids"])
    for m in judged:
        assert m["bot_devices_flagged"].value >= m["bot_devices_in_ground_truth"].value
        assert m["bot_recall"].value == 1.0
        assert m["bot_precision"].value >= 0.99
    [(raw, kept, filtered, dups)] = query(
        warehouse,
        """
        SELECT (SELECT count(*) FROM raw.events), (SELECT count(*) FROM clean.events),
               (SELECT count(*) FROM clean.filtered_events), (SELECT count(*) FROM clean.duplicates)""",
    )
    assert raw == kept + filtered + dups and dups == manifest["duplicates"]["count"]
    fixed = query(
        warehouse, "SELECT DISTINCT app_version, min(event_date)::VARCHAR FROM clean.unit_corrections GROUP BY 1"
    )
    assert fixed == [("3.2.0", "2026-11-03")]
    [(left,)] = query(warehouse, "SELECT count(*) FROM clean.events WHERE price_eur > 2000")
    assert left == 0


def test_a_copy_restamped_onto_the_next_day_is_still_a_duplicate(warehouse, landing):
    write_lines(landing.events_dir() / "a.jsonl", [event("e1", ts="2026-11-02T23:59:59Z")], age_seconds=7200)
    write_lines(landing.events_dir() / "b.jsonl", [event("e1", ts="2026-11-03T00:00:01Z")], age_seconds=60)
    result = run_pipeline(warehouse, landing, ("2026-11-02", "2026-11-03"))
    assert query(warehouse, "SELECT event_id, event_date::VARCHAR FROM clean.events") == [("e1", "2026-11-02")]
    assert query(warehouse, "SELECT event_date::VARCHAR, source_file, kept_source_file FROM clean.duplicates") == [
        ("2026-11-03", "b.jsonl", "a.jsonl")
    ]
    assert checks_by_name(result)["raw_rows_accounted"].passed


def test_copies_are_ranked_within_two_days_of_their_day_and_each_dropped_one_names_the_kept_one(warehouse, landing):
    # three copies on 2026-11-02 and one three days later, beyond the two days a retry is looked for in:
    # that one is an event of its own day
    write_lines(landing.events_dir() / "a.jsonl", [event("e1", ts=ts(1)), event("e2", ts=ts(2))], age_seconds=7200)
    write_lines(landing.events_dir() / "b.jsonl", [event("e1", ts=ts(1))], age_seconds=3600)
    write_lines(landing.events_dir() / "c.jsonl", [event("e1", ts=ts(5)), event("e2", ts=ts(2))], age_seconds=1800)
    write_lines(landing.events_dir() / "d.jsonl", [event("e1", ts="2026-11-05T10:00:00Z")], age_seconds=900)
    result = run_pipeline(warehouse, landing, ("2026-11-02", "2026-11-06"))
    assert query(warehouse, "SELECT event_id, event_date::VARCHAR, source_file FROM clean.events ORDER BY 1, 2") == [
        ("e1", "2026-11-02", "a.jsonl"),
        ("e1", "2026-11-05", "d.jsonl"),
        ("e2", "2026-11-02", "a.jsonl"),
    ]
    assert query(
        warehouse,
        "SELECT event_id, source_file, kept_source_file, kept_source_line FROM clean.duplicates ORDER BY 1, 2",
    ) == [("e1", "b.jsonl", "a.jsonl", 1), ("e1", "c.jsonl", "a.jsonl", 1), ("e2", "c.jsonl", "a.jsonl", 2)]
    assert checks_by_name(result)["raw_rows_accounted"].passed


def test_a_blocking_check_stops_the_range_on_its_own_days_and_the_cli_says_why(
    tmp_path, warehouse, landing, monkeypatch, capsys
):
    """A clean_contract failure (here: the check expects another ruleset version than the one that wrote
    the rows) is recorded per day with its counts as the reason, stops the run, and ``data-platform
    summary`` prints each failing day with that reason."""
    from data_platform import cli
    from data_platform.cleaning import assets as cleaning_assets

    write_lines(
        landing.events_dir() / "a.jsonl",
        [event(f"e{i}", ts=f"2026-11-0{2 + i % 2}T10:{i:02d}:00Z") for i in range(7)],
        age_seconds=7200,
    )
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setattr(cleaning_assets, "RULESET_VERSION", "ruleset-other")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize(
            [raw_ingestion, clean_layer],
            resources={"warehouse": warehouse, "landing": landing},
            instance=instance,
            raise_on_error=False,
            tags={
                "dagster/asset_partition_range_start": "2026-11-02",
                "dagster/asset_partition_range_end": "2026-11-03",
            },
        )
    assert not result.success
    failed = {c.partition: c for c in result.get_asset_check_evaluations() if c.check_name == "clean_contract"}
    per_day = dict(query(warehouse, "SELECT strftime(event_date, '%Y-%m-%d'), count(*) FROM clean.events GROUP BY 1"))
    assert per_day == {"2026-11-02": 4, "2026-11-03": 3}
    for day, n in per_day.items():
        assert not failed[day].passed
        assert failed[day].description == f"wrong_ruleset_version: {n} rows"

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DATA_PLATFORM_WAREHOUSE", warehouse.database)
    assert cli.main(["summary"]) == 0
    out = capsys.readouterr().out
    assert "FAILED clean/events clean_contract 2026-11-02: wrong_ruleset_version: 4 rows" in out
    assert "FAILED clean/events clean_contract 2026-11-03: wrong_ruleset_version: 3 rows" in out
    assert "clean/events raw_rows_accounted" not in out  # passed checks are counted, not listed


def test_a_check_without_a_description_still_shows_its_reason():
    """Checks written elsewhere (new set-aside reasons, split checks) give their reason through their
    metadata: count breakdowns, else counts, else short texts and table rows."""
    from data_platform.launch import check_line

    def evaluation(metadata, severity=dg.AssetCheckSeverity.ERROR, description=None):
        return dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(["clean", "events"]),
            check_name="c",
            passed=False,
            metadata=metadata,
            severity=severity,
            description=description,
            partition="2026-11-05",
        )

    assert (
        check_line(evaluation({"rows_checked": 9000, "by_reason": {"unknown_currency": 1484, "x": 0}}))
        == "FAILED clean/events c 2026-11-05: unknown_currency: 1,484"
    )
    assert (
        check_line(evaluation({"errors": 13, "first": dg.MetadataValue.md("| a |\n|---|\n| 1 |\n| 2 |")}))
        == "FAILED clean/events c 2026-11-05: errors: 13"
    )
    assert (
        check_line(
            evaluation(
                {"problems": "train 0.70 vs 0.80", "divergences": dg.MetadataValue.md("| g |\n|---|\n| 1 |\n| 2 |")},
                severity=dg.AssetCheckSeverity.WARN,
            )
        )
        == "WARN clean/events c 2026-11-05: problems: train 0.70 vs 0.80, divergences: 2 rows"
    )
    assert check_line(evaluation({"n": 3}, description="price_not_converted: 3 rows")).endswith(
        ": price_not_converted: 3 rows"
    )


def record_statements(monkeypatch, module, runner: str) -> list[tuple[str, dict]]:
    """The ``sql/`` statements (name, fragments) run_sql executes while ``module.runner`` runs, filled in
    as the returned list while the test goes on."""
    from data_platform import resources

    executed: list[tuple[str, dict]] = []
    inside: list[bool] = []
    real_load, real_runner = resources.load_sql, getattr(module, runner)

    def recording_load(name, **fragments):
        if inside:
            executed.append((name, fragments))
        return real_load(name, **fragments)

    def recorded_runner(*args, **kwargs):
        inside.append(True)
        try:
            return real_runner(*args, **kwargs)
        finally:
            inside.pop()

    monkeypatch.setattr(resources, "load_sql", recording_load)
    monkeypatch.setattr(module, runner, recorded_runner)
    return executed


def assert_runs_as_declared(executed: list[tuple[str, dict]], declared: list, varying: set[str] = frozenset()):
    """The statements executed are the declared ones, in the same order (first occurrences), and with
    the same fragments except for the statements in ``varying``."""
    declared = [(s.name, dict(s.fragments)) for s in declared]
    assert executed, "the run executed no statement through run_sql"
    assert list(dict.fromkeys(n for n, _ in executed)) == list(dict.fromkeys(n for n, _ in declared))
    assert [p for p in executed if p[0] not in varying] == [p for p in declared if p[0] not in varying]


def test_clean_events_lineage_comes_from_the_statements_a_cleaned_day_runs(warehouse, landing, monkeypatch):
    """Every statement a real day of cleaning executes is in the step list clean.events' column lineage
    is derived from (catalog.STEPS), in the same order, and every declared statement runs."""
    from data_platform.catalog import STEPS

    executed = record_statements(monkeypatch, clean_module, "_clean_day")
    write_lines(
        landing.events_dir() / "a.jsonl",
        [
            imp(1),
            event("login-1", "login", ts=ts(2), anon_id="human-1", user_id="u-1"),
            event("buy-1", "purchase", ts=ts(3), item_id="item-1", price=12.5, currency="EUR"),
        ],
        age_seconds=7200,
    )
    run_pipeline(warehouse, landing)

    declared = STEPS["clean.events"]
    assert declared[0].name == "cleaning/create_tables.sql"  # the tables, declared before the day runs
    # the identity rounds' two label tables swap places from one round to the next (lineage reads one)
    assert_runs_as_declared(
        executed,
        declared[1:],
        varying={
            "cleaning/identity_labels_step.sql",
            "cleaning/identity_labels_changed.sql",
            "cleaning/identity_map.sql",
        },
    )


def test_the_current_identity_map_is_its_own_asset_built_from_every_login_whichever_days_were_cleaned(
    warehouse, landing, monkeypatch
):
    """A day's clean run writes only that day's rows (its rows carry the person as known at the end of their
    day); clean/identity_map, the current map, is its own unpartitioned asset, built from every raw day's
    logins: the same table whether a run cleaned the whole range, the latest day or an earlier one."""
    executed = record_statements(monkeypatch, clean_layer_module, "clean_days")
    login = functools.partial(event, event_type="login", user_agent=CHROME)
    write_lines(
        landing.events_dir() / "a.jsonl",
        [
            login("l-1", ts="2026-11-02T10:00:00Z", anon_id="phone", user_id="u-1"),
            login("l-2", ts="2026-11-03T10:00:00Z", anon_id="laptop", user_id="u-1"),
            login("l-3", ts="2026-11-04T10:00:00Z", anon_id="tablet", user_id="u-2"),
            login("l-4", ts="2026-11-04T11:00:00Z", anon_id="tablet", user_id="u-3"),  # shared: links nobody
            login("l-5", ts="2026-11-04T12:00:00Z", anon_id="kiosk", user_id="u-4"),
            imp(1, ts="2026-11-04T13:00:00Z", anon_id="phone"),
        ],
        age_seconds=7200,
    )
    assert clean_layer.partitions_def is not None and identity_map.partitions_def is None
    assert IDENTITY_MAP not in clean_layer.keys and dg.AssetKey(["raw", "events"]) in identity_map.dependency_keys
    maps = []
    for partition in (("2026-11-02", "2026-11-04"), "2026-11-04", "2026-11-02"):
        executed.clear()
        run_pipeline(warehouse, landing, partition)
        # the clean runs build the maps as of each day (a temp table), never the published one
        assert "cleaning/insert_clean_events.sql" in [n for n, _ in executed]
        assert [n for n, f in executed if "identity_map" in n and "clean.identity_map" in str(f)] == []
        assert "cleaning/pseudonymise_identity_map.sql" not in [n for n, _ in executed]
        maps.append(query(warehouse, "SELECT * FROM clean.identity_map ORDER BY anon_id"))
    assert maps[0] == maps[1] == maps[2]
    assert len(maps[0]) == 4 and len({r[1] for r in maps[0]}) == 3  # phone and laptop: one person
    # the day-2 rows of the phone keep the person known at the end of day 2 (u-1 already), as before
    phone = pseudonymise("phone", pseudonym_key())
    assert query(warehouse, "SELECT DISTINCT person_key FROM clean.events WHERE anon_id = $a", {"a": phone}) == [
        (next(r[1] for r in maps[0] if r[0] == phone),)
    ]


def test_the_contract_check_counts_every_repeated_event_id_and_none_on_an_empty_day():
    """check_clean_events.sql counts rows minus distinct ids from the repeated hashes only: ids seen 2 and 3
    times on the day count 1 and 2, ids of another day or seen once count nothing."""
    import duckdb

    from data_platform.resources import repeated_key_hashes_sql, run_sql

    con = duckdb.connect()
    clean_module.ensure_tables(con)
    ids = ["once", "twice", "twice", "thrice", "thrice", "thrice"]
    con.executemany(
        "INSERT INTO clean.events (event_id, event_date, source_line) VALUES (?, ?, ?)",
        [(event_id, "2026-11-01", line) for line, event_id in enumerate(ids)] + [("twice", "2026-11-02", 99)],
    )

    def counts(start: str, end: str) -> dict:
        cur = run_sql(
            con,
            "cleaning/check_clean_events.sql",
            {"start_day": dt.date.fromisoformat(start), "end_day": dt.date.fromisoformat(end), "ruleset_version": "v"},
            repeated_key_hashes=repeated_key_hashes_sql("day_rows", "event_id"),
        )
        return dict(zip([d[0] for d in cur.description], cur.fetchone()))

    first_day = counts("2026-11-01", "2026-11-02")
    assert (first_day["rows_checked"], first_day["duplicate_event_ids"]) == (6, 3)
    assert counts("2026-11-01", "2026-11-03")["duplicate_event_ids"] == 4  # the next day's copy of "twice" too
    assert counts("2026-12-01", "2026-12-02")["duplicate_event_ids"] == 0


def test_cents_versions_are_judged_on_the_exact_medians_of_even_and_odd_counts():
    """detect_cents_versions.sql takes its medians from sorted rows (not median()): an item's median price and
    a version's median ratio to it are the middle value of an odd count and the mean of the two middle values
    of an even count, as statistics.median computes them, and a version is judged on the count of its rows."""
    import statistics

    import duckdb

    from data_platform.cleaning.clean import CENTS_MEDIANS
    from data_platform.resources import run_sql

    day = dt.date(2026, 11, 2)
    # two items priced mostly by the unit-sending versions (item medians 1.0 of an even count, 7.0 of an odd
    # one, a NULL price left out); version "even-49.5" sends 49x and 50x its items' medians (median ratio 49.5:
    # not cents, though its upper middle ratio 50 would be), "even-100" 99x and 101x (median 100: cents),
    # "odd-120" 60x, 120x and 500x (cents)
    rows = [("1.0", "a", p) for p in (0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 4.0)]
    rows += [("1.1", "b", p) for p in (4.0, 6.0, None, 7.0, 7.0, 7.0, 7.0, 7.0, 8.0, 10.0)]
    rows += [("even-49.5", "a", 49.0), ("even-49.5", "b", 7.0 * 50)]
    rows += [("even-100", "a", 99.0), ("even-100", "b", 7.0 * 101)]
    rows += [("odd-120", "a", 60.0), ("odd-120", "b", 7.0 * 120), ("odd-120", "b", 7.0 * 500)]
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA reference")
    con.execute(
        "CREATE TABLE raw.events (app_version VARCHAR, item_id VARCHAR, price DOUBLE, currency VARCHAR, "
        "event_date DATE)"
    )
    con.executemany("INSERT INTO raw.events VALUES (?, ?, ?, 'eur', ?)", [(*r, day) for r in rows])
    con.execute(
        "CREATE TABLE reference.fx_rates AS SELECT 'EUR' AS currency, DATE '2026-01-01' AS valid_from, "
        "1.0::DOUBLE AS rate_to_eur"
    )
    params = {"start_day": day, "end_day": day + dt.timedelta(days=1), "history_days": 7, "min_events": 2}
    run_sql(con, "cleaning/detect_cents_versions.sql", params, **CENTS_MEDIANS)

    prices = {item: [p for _, i, p in rows if i == item and p is not None] for item in ("a", "b")}
    median_price = {item: statistics.median(p) for item, p in prices.items()}
    ratios: dict[str, list[float]] = {}
    for version, item, price in rows:
        if price is not None:
            ratios.setdefault(version, []).append(price / median_price[item])
    expected = {
        (version, statistics.median(r), len(r))
        for version, r in ratios.items()
        if len(r) >= 2 and 50 <= statistics.median(r) <= 200
    }
    assert median_price == {"a": 1.0, "b": 7.0}
    assert {v for v, *_ in expected} == {"even-100", "odd-120"}
    assert set(con.execute("SELECT app_version, ratio, n FROM cents_versions").fetchall()) == expected
