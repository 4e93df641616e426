"""Injection and path safety: hostile file names, folders, partition keys, config values and symlinks
can neither run SQL nor make the pipeline read or write outside its configured folders; each gets a
clear error, a warning naming it, or a quarantine entry."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from pathlib import Path

import dagster as dg
import pytest

from data_platform.cleaning.assets import clean_layer
from data_platform.ingestion import landing as landing_module
from data_platform.ingestion.assets import raw_ingestion
from data_platform.labeling.ctr_assets import ctr_examples
from data_platform.resources import LandingZone, Warehouse, start_date
from data_platform_tests.conftest import checks_by_name, event, ingest, query, write_lines
from data_platform_tests.reliability_support import digest_tables, table_columns

HOSTILE_NAMES = [
    "it's.jsonl",
    "x'; DROP TABLE raw.events; --.jsonl",
    'double"quote.jsonl',
    "semi;colon;.jsonl",
    "with space .jsonl",
    "ünïcødé-日本-💥.jsonl",
    "a..b.jsonl",
    "$(touch pwned).jsonl",
    "back\\slash.jsonl",
    "new\nline.jsonl",
    "100%_like_.jsonl",
    "we'ird; DROP SCHEMA raw CASCADE; --/x.jsonl",
    "..weird/hidden.jsonl",  # a folder whose name starts with '.' is hidden: never taken
    "sub/..../dots.jsonl",  # so is '....'
]


def _tree(root: Path) -> dict[str, str]:
    """Every file under root (symlinks not followed) with the SHA-256 of its bytes."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if not path.is_symlink():
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _warehouse_text(warehouse: Warehouse, needle: str) -> list[str]:
    """``table.column`` of every text column holding ``needle``, and whether the file's bytes do."""
    hits = []
    with warehouse.connect() as con:
        for table, columns in table_columns(con).items():
            for column, dtype in columns:
                if dtype in ("VARCHAR", "JSON") or dtype.endswith("[]"):
                    n = con.execute(
                        f'SELECT count(*) FROM {table} WHERE "{column}"::VARCHAR LIKE ?', [f"%{needle}%"]
                    ).fetchone()[0]
                    if n:
                        hits.append(f"{table}.{column}")
    for path in Path(warehouse.database).parent.glob(Path(warehouse.database).name + "*"):
        if path.is_file() and needle.encode() in path.read_bytes():
            hits.append(path.name)
    return hits


def test_hostile_file_names_land_verbatim_and_run_no_sql(tmp_path, warehouse, landing, monkeypatch):
    """File and folder names with quotes, semicolons, SQL, spaces, unicode, newlines, LIKE wildcards
    and '..' land under their exact names (bound as parameters, never spliced into SQL); no table is
    dropped, no command runs, the landing folder is not modified, and the clean layer runs on them."""
    events = landing.events_dir()
    for i, name in enumerate(HOSTILE_NAMES):
        write_lines(events / name, [event(f"h{i}", ts="2026-11-02T10:00:00Z"), "not json"])
    before = _tree(tmp_path / "landing")
    monkeypatch.chdir(tmp_path)  # a command substitution would create tmp_path/pwned
    result = ingest(warehouse, landing, "2026-11-02")
    assert all(c.passed for c in checks_by_name(result).values())
    taken = [n for n in HOSTILE_NAMES if not any(part.startswith(".") for part in n.split("/"))]
    assert sorted(r[0] for r in query(warehouse, "SELECT source_file FROM raw.files")) == sorted(taken)
    assert query(warehouse, "SELECT count(*) FROM raw.events") == [(len(taken),)]
    assert query(warehouse, "SELECT count(*), min(reason), max(reason) FROM raw.quarantine") == [
        (len(taken), "not_json", "not_json")
    ]
    assert not (tmp_path / "pwned").exists()
    assert _tree(tmp_path / "landing") == before  # ingestion never writes into the landing folder
    cleaned = dg.materialize(
        [clean_layer, ctr_examples], resources={"warehouse": warehouse, "landing": landing}, partition_key="2026-11-02"
    )
    assert cleaned.success
    assert query(warehouse, "SELECT count(*) FROM clean.events") == [(len(taken),)]
    # provenance keeps the exact names, so a row still leads back to its file
    assert {r[0] for r in query(warehouse, "SELECT source_file FROM clean.events")} == set(taken)


def test_configured_folders_with_quotes_semicolons_and_unicode(tmp_path):
    """A warehouse, spill folder and landing folder whose paths hold quotes, semicolons and unicode
    work: paths reach DuckDB bound as parameters or quoted, and nothing is written beside them."""
    base = tmp_path / "o'neil; DROP TABLE x; --" / "ünï 💥"
    warehouse = Warehouse(database=str(base / "wh'; --.duckdb"), memory_limit="200MB", threads=1)
    landing = LandingZone(root=str(base / "land'ing"), settle_seconds=0)
    write_lines(landing.events_dir() / "a.jsonl", [event(f"e{i}", ts="2026-11-02T10:00:00Z") for i in range(20)])
    ingest(warehouse, landing, "2026-11-02")
    assert dg.materialize(
        [clean_layer], resources={"warehouse": warehouse, "landing": landing}, partition_key="2026-11-02"
    ).success
    with warehouse.connect() as con:
        assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == str(
            Path(warehouse.database).with_suffix(".tmp")
        )
    assert query(warehouse, "SELECT count(*) FROM clean.events") == [(20,)]
    written = sorted(p.name for p in base.iterdir())
    assert set(written) <= {"land'ing", "wh'; --.duckdb", "wh'; --.duckdb.wal", "wh'; --.tmp"}, written


@pytest.mark.parametrize(
    "key",
    [
        "2026-11-02'; DROP TABLE raw.events; --",
        "2026-11-02 OR 1=1",
        "../../etc/passwd",
        "2026-11-02\x00",
        "2026-11-02T00:00:00",
    ],
)
def test_partition_keys_crafted_as_sql_are_rejected_before_any_work(warehouse, landing, key):
    """A partition key that is not a day of the partitions is refused by Dagster with a clear error,
    before the step starts: the warehouse is untouched."""
    write_lines(landing.events_dir() / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    ingest(warehouse, landing, "2026-11-02")
    before = digest_tables(warehouse.database, exclude=frozenset())
    with pytest.raises(dg.DagsterUnknownPartitionError, match="Could not find a partition"):
        dg.materialize([raw_ingestion], resources={"warehouse": warehouse, "landing": landing}, partition_key=key)
    with pytest.raises((ValueError, dg.DagsterError)):
        dg.materialize(
            [raw_ingestion],
            resources={"warehouse": warehouse, "landing": landing},
            tags={"dagster/asset_partition_range_start": key, "dagster/asset_partition_range_end": "2026-11-03"},
        )
    assert digest_tables(warehouse.database, exclude=frozenset()) == before


def test_config_values_crafted_as_sql_are_refused(tmp_path, monkeypatch, warehouse, landing):
    """Settings that reach SQL text are validated (memory limit, start date) or typed (threads, run
    config): a crafted value fails with a clear error and runs nothing."""
    db = str(tmp_path / "c.duckdb")
    for value in ("1GB'; ATTACH '/tmp/evil.duckdb' AS evil; --", "1GB; DROP TABLE raw.events", "lots"):
        with pytest.raises(ValueError, match="memory limit"):
            with Warehouse(database=db, memory_limit=value).connect():
                pass
    with pytest.raises(Exception, match="threads"):
        Warehouse(database=db, threads="2; DROP TABLE raw.events")
    monkeypatch.setenv("DATA_PLATFORM_START_DATE", "2026-11-01'; DROP TABLE raw.events; --")
    with pytest.raises(ValueError, match="DATA_PLATFORM_START_DATE"):
        start_date()
    monkeypatch.setenv("DATA_PLATFORM_SETTLE_SECONDS", "0; rm -rf /")
    with pytest.raises(ValueError):
        LandingZone.from_env()
    monkeypatch.delenv("DATA_PLATFORM_START_DATE")
    write_lines(landing.events_dir() / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    ingest(warehouse, landing, "2026-11-02")
    before = digest_tables(warehouse.database, exclude=frozenset())
    with pytest.raises(dg.DagsterInvalidConfigError, match="attribution_window_minutes"):
        dg.materialize(
            [ctr_examples],
            resources={"warehouse": warehouse},
            partition_key="2026-11-02",
            run_config={
                "ops": {"labels__ctr_examples": {"config": {"attribution_window_minutes": "30; DROP TABLE raw.events"}}}
            },
        )
    assert digest_tables(warehouse.database, exclude=frozenset()) == before
    assert not Path("/tmp/evil.duckdb").exists()


def test_symlinks_leading_outside_are_refused_with_a_warning(tmp_path, warehouse, landing):
    """Symlinks to a file outside, to /etc/passwd, through '..', to a folder outside, chained through an
    inside link, looping, or broken: none is read; the run succeeds, names each in a warning and in
    the raw/files metadata, and no byte of the outside files reaches the warehouse."""
    secret = f"SECRET-OUTSIDE-{uuid.uuid4().hex}"
    outside = tmp_path / "outside"
    write_lines(outside / "secret.jsonl", [event(secret, ts="2026-11-02T10:00:00Z")])
    write_lines(outside / "dir" / "inner.jsonl", [event(secret + "-dir", ts="2026-11-02T10:00:00Z")])
    events = landing.events_dir()
    write_lines(events / "good.jsonl", [event("good", ts="2026-11-02T10:00:00Z")])
    (events / "abs.jsonl").symlink_to(outside / "secret.jsonl")
    (events / "passwd.jsonl").symlink_to("/etc/passwd")
    (events / "rel.jsonl").symlink_to(Path("..") / ".." / "outside" / "secret.jsonl")
    (events / "outdir").symlink_to(outside / "dir", target_is_directory=True)
    (events / "hop.jsonl").symlink_to(events / "abs.jsonl")
    (events / "loop.jsonl").symlink_to(events / "loop.jsonl")
    (events / "broken.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    instance = dg.DagsterInstance.ephemeral()
    result = ingest(warehouse, landing, "2026-11-02", instance=instance)
    assert query(warehouse, "SELECT source_file FROM raw.files") == [("good.jsonl",)]
    warnings = [
        r.user_message
        for r in instance.all_logs(result.run_id)
        if r.level == 30 and "refused landing entry" in r.user_message
    ]
    refused = {
        name
        for name in ("abs.jsonl", "passwd.jsonl", "rel.jsonl", "hop.jsonl", "loop.jsonl", "broken.jsonl")
        if any(f"'{name}'" in w for w in warnings)
    }
    assert refused == {"abs.jsonl", "passwd.jsonl", "rel.jsonl", "hop.jsonl", "loop.jsonl", "broken.jsonl"}
    meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    table = meta["raw/files"]["entries_refused_by_this_run"].value
    assert "abs.jsonl" in table and "outside the landing folder" in table
    assert _warehouse_text(warehouse, secret) == []
    assert _warehouse_text(warehouse, "root:x:0:0") == []


def test_symlink_retargeted_between_listing_and_reading_is_not_read(tmp_path, warehouse, landing, monkeypatch):
    """A run lists the folder once, then reads the files one by one (minutes apart for big files). A
    symlink retargeted to an outside file, or a file replaced by such a symlink, in that window is not
    read: the file opened must be the one the listing vetted (same device and inode)."""
    secret = f"SECRET-SWAPPED-{uuid.uuid4().hex}"
    outside = write_lines(tmp_path / "outside" / "secret.jsonl", [event(secret, ts="2026-11-02T10:00:00Z")])
    events = landing.events_dir()
    write_lines(events / "a.jsonl", [event("a", ts="2026-11-02T10:00:00Z")])
    inside = write_lines(events / "real" / "b-target.jsonl", [event("b", ts="2026-11-02T10:00:00Z")])
    (events / "b.jsonl").symlink_to(inside)
    write_lines(events / "c.jsonl", [event("c", ts="2026-11-02T10:00:00Z")])
    original = landing_module.read_lines
    swapped = []

    def read_lines_then_swap(path, compressed, counter=None, **kwargs):
        if not swapped:  # while the first file is being read, an attacker swaps the others
            (events / "b.jsonl").unlink()
            (events / "b.jsonl").symlink_to(outside)
            (events / "c.jsonl").unlink()
            (events / "c.jsonl").symlink_to(outside)
            swapped.append(path)
        yield from original(path, compressed, counter, **kwargs)

    monkeypatch.setattr(landing_module, "read_lines", read_lines_then_swap)
    refused: list[tuple[str, str]] = []
    with warehouse.connect() as con:
        landed = landing_module.land_new_files(
            con, events, "r", min_ts=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), settle_seconds=0, refused=refused
        )
    assert [f.rel for f in landed] == ["a.jsonl", "real/b-target.jsonl"]
    assert {rel for rel, why in refused if "changed between listing and reading" in why} == {"b.jsonl", "c.jsonl"}
    assert _warehouse_text(warehouse, secret) == []
