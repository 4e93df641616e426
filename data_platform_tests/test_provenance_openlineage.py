"""OpenLineage run events (provenance/openlineage.py): real runs of the daily pipeline and of a failing clean
step over a temp DuckDB, the sensor ticked, every emitted event validated against the published OpenLineage
JSON schemas (vendored in openlineage_spec/, see its SOURCE.md), the column lineage of clean/events compared
with what base/lineage.py derives from the declared SQL, the file, HTTP and off configurations."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from data_platform.base.lineage import lineage_of_sql_files
from data_platform.catalog import STEPS
from data_platform.cleaning.assets import clean_layer
from data_platform_tests.conftest import generated_world, project_jobs, query

DAY = "2026-11-02"
SPEC = Path(__file__).parent / "openlineage_spec"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


# --------------------------------------------------------------------------------------------------
# The runs (once for the module): the daily pipeline for one day, then a clean step that fails


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("openlineage")
    mp = pytest.MonkeyPatch()
    try:
        landing, warehouse, _ = generated_world(root, days=1, events_per_day=300, seed=11)
        defs, resources = project_jobs(root, mp, landing, warehouse)
        from data_platform.definitions import defs as project

        defs = dg.Definitions(
            assets=defs.assets,
            asset_checks=defs.asset_checks,
            jobs=defs.jobs,
            sensors=[project.resolve_sensor_def("openlineage_sensor")],
            resources=resources,
            executor=dg.in_process_executor,
        )
        instance = dg.DagsterInstance.ephemeral()
        daily = defs.resolve_job_def("daily_pipeline").execute_in_process(
            partition_key=DAY, instance=instance, raise_on_error=False
        )
        assert daily.success
        # break raw.events under the clean step: its SQL no longer binds, the step fails
        with warehouse.connect() as con:
            con.execute("ALTER TABLE raw.events RENAME COLUMN event_type TO kind_of_event")
        failed = dg.materialize(
            [clean_layer], resources=resources, instance=instance, partition_key=DAY, raise_on_error=False
        )
        assert not failed.success
        with warehouse.connect() as con:
            con.execute("ALTER TABLE raw.events RENAME COLUMN kind_of_event TO event_type")
        yield {"defs": defs, "instance": instance, "warehouse": warehouse, "daily": daily, "failed": failed}
    finally:
        mp.undo()


def drop_client_variables() -> None:
    """Remove the ``OPENLINEAGE__TRANSPORT__*`` variables the client itself writes into ``os.environ`` when it
    sees ``OPENLINEAGE_URL`` (its aliasing), so that one test's settings do not reach the next."""
    for name in [n for n in os.environ if n.startswith("OPENLINEAGE__")]:
        del os.environ[name]


@pytest.fixture
def lineage_env(tmp_path, monkeypatch):
    """No OpenLineage setting from the machine: no OPENLINEAGE_* variable, no openlineage.yml in reach."""
    for name in list(os.environ):
        if name.startswith("OPENLINEAGE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_PLATFORM_LINEAGE", str(tmp_path / "lineage"))
    yield tmp_path / "lineage" / "openlineage.jsonl"
    drop_client_variables()


def tick(world, cursor: str | None = None):
    """One evaluation of the openlineage_sensor over the module's instance."""
    defs = world["defs"]
    sensor = defs.resolve_sensor_def("openlineage_sensor")
    context = dg.build_sensor_context(
        instance=world["instance"], cursor=cursor, definitions=defs, resources=defs.resources
    )
    return sensor.evaluate_tick(context)


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --------------------------------------------------------------------------------------------------
# The schemas


def _registry() -> tuple[Registry, set[str]]:
    docs = [json.loads(p.read_text()) for p in sorted(SPEC.rglob("*.json"))]
    return Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in docs), {d["$id"] for d in docs}


def facets_of(event: dict) -> list[dict]:
    """Every facet in a run event: run, job, and each dataset's facets, input facets and output facets."""
    found = list(event["run"].get("facets", {}).values()) + list(event["job"].get("facets", {}).values())
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        for kind in ("facets", "inputFacets", "outputFacets"):
            found += list(dataset.get(kind, {}).values())
    return found


def validate(events: list[dict]) -> int:
    """Validate every event against OpenLineage.json (RunEvent) and every facet against the schema its
    ``_schemaURL`` names; a facet whose schema is not vendored fails. Returns the number of facets checked."""
    registry, ids = _registry()
    checked = 0
    for event in events:
        assert event["schemaURL"] == RUN_EVENT
        Draft202012Validator(
            {"$ref": RUN_EVENT}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        ).validate(event)
        for facet in facets_of(event):
            url = facet["_schemaURL"]
            assert url.split("#")[0] in ids, f"no vendored schema for {url}"
            Draft202012Validator(
                {"$ref": url}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
            ).validate(facet)
            checked += 1
    return checked


def test_the_schemas_reject_a_broken_event(world, lineage_env):
    """The validation can fail: an event without runId, and a column-lineage facet without inputFields."""
    tick(world)
    event = next(e for e in read_events(lineage_env) if e["job"]["name"] == "clean/events")
    broken = json.loads(json.dumps(event))
    del broken["run"]["runId"]
    with pytest.raises(Exception, match="runId"):
        validate([broken])
    broken = json.loads(json.dumps(event))
    first = next(iter(broken["outputs"][0]["facets"]["columnLineage"]["fields"].values()))
    del first["inputFields"]
    with pytest.raises(Exception, match="inputFields"):
        validate([broken])


# --------------------------------------------------------------------------------------------------
# The file transport (the default)


def test_every_event_of_the_daily_run_and_the_failed_step_validates(world, lineage_env):
    result = tick(world)
    events = read_events(lineage_env)
    assert "sent" in result.skip_message and str(lineage_env) in result.skip_message
    assert validate(events) > len(events)  # every event has facets, all of them checked

    # the Dagster runs are the parent jobs; every materialization of the daily run has a START and a COMPLETE
    # under its own run id, whose parent facet names the Dagster run
    daily = world["daily"]
    parents = {
        (e["job"]["name"], e["run"]["runId"], e["eventType"]) for e in events if "parent" not in e["run"]["facets"]
    }
    assert ("daily_pipeline", daily.run_id, "START") in parents
    assert ("daily_pipeline", daily.run_id, "COMPLETE") in parents
    ours = [e for e in events if e["run"]["facets"].get("parent", {}).get("run", {}).get("runId") == daily.run_id]
    materialized = {e.asset_key.to_user_string() for e in daily.get_asset_materialization_events()}
    assert {e["job"]["name"] for e in ours} == materialized
    for name in materialized:
        states = [e for e in ours if e["job"]["name"] == name]
        assert [e["eventType"] for e in states] == ["START", "COMPLETE"], name
        assert states[0]["run"]["runId"] == states[1]["run"]["runId"]
        assert states[0]["eventTime"] <= states[1]["eventTime"]
        assert states[1]["run"]["facets"]["parent"]["job"]["name"] == "daily_pipeline"
        # one START and COMPLETE for the unpartitioned identity map too (Dagster plans it with the run's day), of
        # no day
        window = states[1]["run"]["facets"].get("nominalTime")
        if name == "clean/identity_map":
            assert window is None
        else:
            assert window["nominalStartTime"].startswith(DAY)

    # datasets: the warehouse's namespace, named by table
    namespace = "duckdb://" + Path(world["warehouse"].database).resolve().as_posix()
    clean = next(e for e in ours if e["job"]["name"] == "clean/events" and e["eventType"] == "COMPLETE")
    assert {(d["namespace"], d["name"]) for d in clean["inputs"]} >= {(namespace, "raw.events")}
    (output,) = clean["outputs"]
    assert (output["namespace"], output["name"]) == (namespace, "clean.events")

    # the output's figures are the table's own
    (rows,) = query(world["warehouse"], "SELECT count(*) FROM clean.events WHERE event_date = $1", [DAY])[0]
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == rows
    columns = [r[0] for r in query(world["warehouse"], "SELECT column_name FROM (DESCRIBE clean.events)")]
    assert [f["name"] for f in output["facets"]["schema"]["fields"]] == columns

    # a second tick from the stored cursor sends nothing again
    again = tick(world, result.cursor)
    assert again.skip_message.startswith("sent 0 OpenLineage events of 0 runs")
    assert len(read_events(lineage_env)) == len(events)


def test_clean_events_column_lineage_is_what_the_platform_derives(world, lineage_env):
    tick(world)
    namespace = "duckdb://" + Path(world["warehouse"].database).resolve().as_posix()
    complete = [
        e for e in read_events(lineage_env) if e["job"]["name"] == "clean/events" and e["eventType"] == "COMPLETE"
    ]
    assert complete
    derived = lineage_of_sql_files([(s.name, dict(s.fragments)) for s in STEPS["clean.events"]], "clean.events")
    expected = {column: {(namespace, table, col) for table, col in deps} for column, deps in derived.items()}
    for event in complete:
        fields = event["outputs"][0]["facets"]["columnLineage"]["fields"]
        got = {c: {(f["namespace"], f["name"], f["field"]) for f in v["inputFields"]} for c, v in fields.items()}
        assert got == expected
    # and price_eur reads the fx rates (docs/provenance.md's example): they are an input of the event
    assert (namespace, "reference.fx_rates", "rate_to_eur") in expected["price_eur"]
    assert "reference.fx_rates" in {d["name"] for d in complete[0]["inputs"]}


def test_a_failed_step_gives_fail_events_with_its_error(world, lineage_env):
    tick(world)
    failed = world["failed"]
    events = [
        e
        for e in read_events(lineage_env)
        if e["run"]["runId"] == failed.run_id
        or e["run"]["facets"].get("parent", {}).get("run", {}).get("runId") == failed.run_id
    ]
    validate(events)
    by_job = {}
    for e in events:
        by_job.setdefault(e["job"]["name"], []).append(e["eventType"])
    assert by_job == {
        failed.dagster_run.job_name: ["START", "FAIL"],
        "clean/events": ["START", "FAIL"],
        "clean/filtered_events": ["START", "FAIL"],
    }
    fail = next(e for e in events if e["job"]["name"] == "clean/events" and e["eventType"] == "FAIL")
    message = fail["run"]["facets"]["errorMessage"]["message"]
    assert "event_type" in message  # DuckDB's binder error names the column the SQL could not find
    assert "outputStatistics" not in fail["outputs"][0]["outputFacets"]


def test_no_personal_data_leaves_in_the_events(world, lineage_env):
    tick(world)
    text = lineage_env.read_text()
    people = query(
        world["warehouse"],
        "SELECT DISTINCT anon_id FROM raw.events WHERE anon_id IS NOT NULL "
        "UNION SELECT DISTINCT user_id FROM raw.events WHERE user_id IS NOT NULL "
        "UNION SELECT DISTINCT anon_id FROM clean.events WHERE anon_id IS NOT NULL",
    )
    assert len(people) > 10
    assert not [p for (p,) in people if p in text]


def test_off_by_configuration(world, lineage_env, monkeypatch):
    monkeypatch.setenv("OPENLINEAGE_DISABLED", "true")
    result = tick(world)
    assert "OpenLineage is off" in result.skip_message
    assert not lineage_env.exists()


# --------------------------------------------------------------------------------------------------
# The HTTP transport (OPENLINEAGE_URL): a local server records what is posted


class _Recorder(BaseHTTPRequestHandler):
    posted: list = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posted.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def lineage_server():
    handler = type("Recorder", (_Recorder,), {"posted": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, handler
    finally:
        server.shutdown()
        server.server_close()


def test_http_transport_posts_every_event_and_a_rejected_delivery_is_sent_again(
    world, lineage_env, lineage_server, monkeypatch
):
    server, handler = lineage_server
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("OPENLINEAGE_API_KEY", "secret-token")

    handler.status = 400  # the server rejects: nothing is lost, the cursor stays
    rejected = tick(world)
    assert "not delivered" in rejected.skip_message and rejected.cursor is None
    assert len(handler.posted) == 1

    handler.status, handler.posted[:] = 200, []
    result = tick(world, rejected.cursor)
    posted = [body for *_, body in handler.posted]
    assert {path for path, *_ in handler.posted} == {"/api/v1/lineage"}
    assert {auth for _, auth, _ in handler.posted} == {"Bearer secret-token"}
    validate(posted)
    runs = {world["daily"].run_id, world["failed"].run_id}
    assert {e["run"]["runId"] for e in posted if "parent" not in e["run"]["facets"]} == runs
    assert f"sent {len(posted)} OpenLineage events of 2 runs" in result.skip_message
    assert not lineage_env.exists()  # the file is only the default

    # the same events as the file transport would write
    monkeypatch.delenv("OPENLINEAGE_URL")
    drop_client_variables()
    tick(world)
    assert read_events(lineage_env) == posted


def test_a_step_that_succeeds_on_retry_is_complete_not_failed(lineage_env, tmp_path):
    """A step retried by Dagster (its first attempt failed, reported as up for retry): one START and one
    COMPLETE for the materialization, under one run id, and the Dagster run COMPLETE; no FAIL."""
    from data_platform.provenance.openlineage import build_openlineage_sensor
    from data_platform.resources import Warehouse

    attempts = []

    @dg.asset(key=["toy", "flaky"], retry_policy=dg.RetryPolicy(max_retries=1))
    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        return dg.MaterializeResult(metadata={"dagster/row_count": 3})

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([flaky], instance=instance)
    assert result.success and len(attempts) == 2
    sensor = build_openlineage_sensor()
    warehouse = Warehouse(database=str(tmp_path / "w.duckdb"))
    defs = dg.Definitions(assets=[flaky], sensors=[sensor], resources={"warehouse": warehouse})
    context = dg.build_sensor_context(instance=instance, definitions=defs, resources=defs.resources)
    sensor.evaluate_tick(context)
    events = read_events(lineage_env)
    validate(events)
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        (result.dagster_run.job_name, "START"),
        ("toy/flaky", "START"),
        ("toy/flaky", "COMPLETE"),
        (result.dagster_run.job_name, "COMPLETE"),
    ]
    assert events[1]["run"]["runId"] == events[2]["run"]["runId"]
    assert events[2]["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 3


def test_the_namespace_names_the_warehouse_file_or_the_lake_catalog(tmp_path):
    from data_platform.provenance.openlineage import warehouse_namespace
    from data_platform.resources import Warehouse

    file = Warehouse(database=str(tmp_path / "sub" / ".." / "w.duckdb"))
    assert warehouse_namespace(file) == f"duckdb://{(tmp_path / 'w.duckdb').as_posix()}"
    lake = Warehouse(database=":memory:", lake_catalog="postgres:dbname=lake host=db", lake_data_path="s3://b/lake/")
    assert warehouse_namespace(lake) == "ducklake:postgres:dbname=lake host=db"
