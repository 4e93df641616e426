"""Tests of the Label Studio formats (labeling config, import tasks, export parsing and its rejections) and of
the server connector where no server is needed (test_label_studio_server.py runs it against a real one)."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_platform.generator.raters import DEFAULT_PANEL, simulate_annotations, write_export
from data_platform.generator.simulate import REVIEW_TEXTS, review_truth
from data_platform.labeling import SENTIMENTS
from data_platform.labeling.label_studio import (
    LABELING_CONFIG,
    REJECT_REASONS,
    LabelStudioError,
    LabelStudioServer,
    ParsedExport,
    build_tasks,
    parse_export,
    write_batch,
)
from data_platform_tests.processes import free_port
from data_platform_tests.reliability_support import PROJECT_ROOT, child_env

ROW_FIELDS = ("task_id", "review_id", "batch_id", "text", "item_id", "category", "predicted_label", "predicted_score")


def _rows(n: int, seed: int = 0, batch_id: str = "batch-2026-11-16") -> list[dict]:
    rng = np.random.default_rng(seed)
    texts = [t for pool, pool_texts in REVIEW_TEXTS.items() for t in pool_texts]
    reasons = ("active", "random", "gold")
    return [
        {
            "task_id": 500 + i,
            "review_id": f"{rng.integers(16**8):08x}-review-{i}",
            "batch_id": batch_id,
            "text": texts[rng.integers(len(texts))] + (" Questions? Write me at <EMAIL>" if i % 4 == 0 else ""),
            "item_id": f"item_{100_000 + i}",
            "category": "books",
            "predicted_label": SENTIMENTS[i % 3],
            "predicted_score": round(float(rng.random()), 4),
            "reason": reasons[i % 3],  # why it was picked: must not reach the raters
            "selected_by": "uncertainty",
        }
        for i in range(n)
    ]


def _write(tmp_path: Path, content, name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return path


# --- Labeling config and tasks ------------------------------------------------------------------


def test_labeling_config():
    view = ET.fromstring(LABELING_CONFIG)
    assert view.tag == "View"
    [header] = view.findall("Header")
    assert header.get("value") == "$category / item $item_id"
    [text] = view.findall("Text")
    assert (text.get("name"), text.get("value")) == ("text", "$text")
    [choices] = view.findall("Choices")
    assert (choices.get("name"), choices.get("toName"), choices.get("choice")) == ("sentiment", "text", "single")
    assert tuple(c.get("value") for c in choices.findall("Choice")) == SENTIMENTS


def test_build_tasks():
    rows = _rows(6)
    tasks = build_tasks(rows, "sentiment-tfidf-2026.11")
    assert len(tasks) == 6
    for row, task in zip(rows, tasks):
        assert task == {
            "id": row["task_id"],
            "data": {k: row[k] for k in ("review_id", "batch_id", "text", "item_id", "category")},
            "predictions": [
                {
                    "model_version": "sentiment-tfidf-2026.11",
                    "score": row["predicted_score"],
                    "result": [
                        {
                            "from_name": "sentiment",
                            "to_name": "text",
                            "type": "choices",
                            "value": {"choices": [row["predicted_label"]]},
                        }
                    ],
                }
            ],
        }
        # Why the review was picked is nowhere in the task: raters cannot tell gold items.
        dumped = json.dumps(task)
        assert "reason" not in dumped and "selected_by" not in dumped and "uncertainty" not in dumped
        assert row["reason"] not in dumped or row["reason"] in row["text"]
    json.dumps(tasks, allow_nan=False)


def test_build_tasks_takes_numpy_numbers_and_no_prediction():
    row = _rows(1)[0] | {"task_id": np.int64(7), "predicted_score": np.float32(0.25)}
    [task] = build_tasks([row], "m")
    assert task["id"] == 7 and type(task["id"]) is int and task["predictions"][0]["score"] == 0.25
    [task] = build_tasks([row | {"predicted_label": None}], "m")
    assert task["predictions"] == []


@pytest.mark.parametrize(
    "change",
    [
        {"predicted_label": "happy"},
        {"predicted_score": math.nan},
        {"predicted_score": "0.5"},
        {"task_id": "7"},
        {"task_id": True},
        {"review_id": ""},
        {"review_id": None},
    ],
)
def test_build_tasks_rejects_bad_rows(change):
    with pytest.raises(ValueError):
        build_tasks([_rows(1)[0] | change], "m")


def test_build_tasks_rejects_missing_fields_and_repeats():
    for name in ROW_FIELDS:
        row = _rows(1)[0]
        del row[name]
        with pytest.raises(ValueError, match=name):
            build_tasks([row], "m")
    a, b = _rows(2)
    with pytest.raises(ValueError, match="twice"):
        build_tasks([a, b | {"task_id": a["task_id"]}], "m")
    with pytest.raises(ValueError, match="twice"):
        build_tasks([a, b | {"review_id": a["review_id"]}], "m")


def test_write_batch(tmp_path):
    tasks = build_tasks(_rows(5), "m")
    path = write_batch(tasks, tmp_path / "out", "batch-2026-11-16")
    assert path == tmp_path / "out" / "batch-2026-11-16.tasks.json"
    assert json.loads(path.read_text(encoding="utf-8")) == tasks
    assert (tmp_path / "out" / "labeling_config.xml").read_text(encoding="utf-8") == LABELING_CONFIG
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "batch-2026-11-16.tasks.json",
        "labeling_config.xml",
    ]
    with pytest.raises(ValueError):
        write_batch(tasks, tmp_path / "out", "../escape")


# --- Round trip ---------------------------------------------------------------------------------


def test_round_trip_build_simulate_write_parse(tmp_path):
    rows = _rows(400)
    tasks = build_tasks(rows, "m")
    write_batch(tasks, tmp_path / "batches", "b1")
    imported = json.loads((tmp_path / "batches" / "b1.tasks.json").read_text(encoding="utf-8"))
    export = simulate_annotations(imported, DEFAULT_PANEL, raters_per_task=3, seed=9)
    path = write_export(export, tmp_path, "project-7-at-2026-11-16-10-00")
    parsed = parse_export(path)
    assert isinstance(parsed, ParsedExport) and parsed.rejected == []

    expected = [(t["id"], t["data"]["review_id"], a) for t in export for a in t["annotations"]]
    assert len(parsed.annotations) == len(expected) == 3 * len(rows)
    for row, (task_id, review_id, a) in zip(parsed.annotations, expected):
        cancelled = a["was_cancelled"]
        assert row == {
            "source_file": path.name,
            "task_id": task_id,
            "review_id": review_id,
            "batch_id": "batch-2026-11-16",
            "rater": f"user-{a['completed_by']}",
            "label": None if cancelled else a["result"][0]["value"]["choices"][0],
            "status": "cancelled" if cancelled else "completed",
            "annotation_id": a["id"],
            "created_at": a["created_at"],
        }
    assert {r["review_id"] for r in parsed.annotations} == {r["review_id"] for r in rows}
    assert {r["rater"] for r in parsed.annotations} == {f"user-{p.user_id}" for p in DEFAULT_PANEL}
    # Spam is skipped by everyone; the rest mostly labeled right by the majority.
    by_review = {r["review_id"]: r for r in rows}
    majority_right = Counter()
    for review_id in by_review:
        labels = [r["label"] for r in parsed.annotations if r["review_id"] == review_id]
        truth = review_truth(by_review[review_id]["text"])
        if truth is None:
            assert labels == [None, None, None]
        else:
            majority_right[Counter(labels).most_common(1)[0][0] == truth] += 1
    assert majority_right[True] / sum(majority_right.values()) > 0.85


def test_statuses_and_rater_forms(tmp_path):
    def annotation(i, completed_by, result, cancelled=False):
        return {
            "id": i,
            "completed_by": completed_by,
            "result": result,
            "was_cancelled": cancelled,
            "ground_truth": False,
            "created_at": "2026-11-16T09:00:00.000000Z",
        }

    choice = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["neutral"]}}]
    comment = {"from_name": "comment", "to_name": "text", "type": "textarea", "value": {"text": ["hm"]}}
    export = [
        {
            "id": 1,
            "data": {"review_id": "r1", "text": "x"},
            "annotations": [
                annotation(1, 101, choice),
                annotation(2, {"id": 7, "email": "rater@example.org", "first_name": "R"}, choice + [comment]),
                annotation(3, {"id": 8}, []),
                annotation(4, 102, [], cancelled=True),
                annotation(5, 103, choice, cancelled=True),  # cancelled wins over a leftover result
                annotation(6, 104, [{"from_name": "sentiment", "value": {"choices": []}}]),
            ],
        },
        {"id": 2, "data": {"review_id": "r2"}},
    ]  # no annotations yet: nothing, and nothing rejected
    parsed = parse_export(_write(tmp_path, export))
    assert parsed.rejected == []
    got = [(r["annotation_id"], r["rater"], r["label"], r["status"]) for r in parsed.annotations]
    assert got == [
        (1, "user-101", "neutral", "completed"),
        (2, "rater@example.org", "neutral", "completed"),
        (3, "user-8", None, "empty"),
        (4, "user-102", None, "cancelled"),
        (5, "user-103", None, "cancelled"),
        (6, "user-104", None, "empty"),
    ]
    assert all(r["batch_id"] is None and r["task_id"] == 1 for r in parsed.annotations)


# --- Rejections ---------------------------------------------------------------------------------


def _good_task(task_id: int = 1, review_id: str = "r1") -> dict:
    return {
        "id": task_id,
        "data": {"review_id": review_id, "batch_id": "b", "text": "meh"},
        "annotations": [
            {
                "id": 10 * task_id,
                "completed_by": 101,
                "was_cancelled": False,
                "created_at": "2026-11-16T09:00:00Z",
                "result": [
                    {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["neutral"]}}
                ],
            }
        ],
    }


def _with_annotation(**changes) -> list[dict]:
    """A good task whose second annotation is the good one with ``changes`` (None deletes a key)."""
    task = _good_task()
    bad = copy.deepcopy(task["annotations"][0]) | {"id": 99}
    for key, value in changes.items():
        if value is None:
            del bad[key]
        else:
            bad[key] = value
    task["annotations"].append(bad)
    return [task]


def _result(choices) -> list[dict]:
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": choices}}]


BAD_EXPORTS = {
    "unreadable_file": ["a directory", "missing.json"],
    "not_json": [b'[{"id": 1, "data": {"review_id": "r1"', b"\xff\xfe[]", b"", b"NaN garbage"],
    "not_a_list": [{"tasks": [_good_task()]}, "a string", 3],
    "task_not_an_object": [[_good_task(), 1], [_good_task(), [_good_task(2, "r2")]], [None, _good_task()]],
    "missing_review_id": [
        [_good_task(), {"id": 2, "data": {"text": "no id"}, "annotations": []}],
        [_good_task(), {"id": 2, "data": {"review_id": 123}}],
        [_good_task(), {"id": 2, "text": "JSON_MIN", "sentiment": "positive", "annotator": 1}],
    ],
    "malformed_annotation": [
        [_good_task(), {"id": 2, "data": {"review_id": "r2"}, "annotations": {"id": 1}}],
        _with_annotation(result="neutral"),
        _with_annotation(result=None),
        _with_annotation(was_cancelled="yes"),
        _with_annotation(result=[{"from_name": "sentiment", "value": {"choices": "neutral"}}]),
        _with_annotation(result=["neutral"]),
        [_good_task() | {"annotations": _good_task()["annotations"] + ["not an annotation"]}],
    ],
    "missing_rater": [
        _with_annotation(completed_by=None),
        _with_annotation(completed_by="bob"),
        _with_annotation(completed_by={"first_name": "Bob"}),
        _with_annotation(completed_by=True),
    ],
    "missing_sentiment": [
        _with_annotation(
            result=[{"from_name": "mood", "to_name": "text", "type": "choices", "value": {"choices": ["neutral"]}}]
        ),
        _with_annotation(result=[{"value": {"choices": ["neutral"]}}]),
    ],
    "unknown_choice": [_with_annotation(result=_result(["great"])), _with_annotation(result=_result(["Positive"]))],
    "multiple_choices": [
        _with_annotation(result=_result(["positive", "neutral"])),
        _with_annotation(result=_result(["positive"]) + _result(["positive"])),
    ],
}


def test_every_reject_reason_is_tested():
    assert set(BAD_EXPORTS) == set(REJECT_REASONS)


@pytest.mark.parametrize("reason,index", [(r, i) for r, cases in BAD_EXPORTS.items() for i in range(len(cases))])
def test_each_reject_reason(tmp_path, reason, index):
    content = BAD_EXPORTS[reason][index]
    if reason == "unreadable_file":
        path = tmp_path / "missing.json" if content == "missing.json" else tmp_path
    else:
        path = _write(tmp_path, content)
    parsed = parse_export(path)
    assert [r["reason"] for r in parsed.rejected] == [reason], parsed.rejected
    [rejected] = parsed.rejected
    assert rejected["source_file"] == path.name and rejected["detail"]
    file_level = reason in ("unreadable_file", "not_json", "not_a_list")
    assert (rejected["task_index"] is None) == file_level
    if not file_level:
        # what is fine next to the bad part is kept: the good task's (first) annotation
        assert [(r["review_id"], r["annotation_id"], r["label"]) for r in parsed.annotations] == [("r1", 10, "neutral")]


def test_a_truncated_export_gives_one_rejected_row(tmp_path):
    export = simulate_annotations(build_tasks(_rows(30), "m"), DEFAULT_PANEL, seed=2)
    whole = write_export(export, tmp_path, "whole")
    data = whole.read_bytes()
    for cut in (1, len(data) // 3, len(data) - 3):
        parsed = parse_export(_write(tmp_path, data[:cut], "cut.json"))
        assert parsed.annotations == []
        assert [r["reason"] for r in parsed.rejected] == ["not_json"]
        assert parsed.rejected[0]["task_index"] is None


# --- Never raises -------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.sampled_from(["sentiment", "text", "choices", "positive", "neutral", "r1", ""]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "data",
                    "review_id",
                    "annotations",
                    "result",
                    "from_name",
                    "value",
                    "choices",
                    "completed_by",
                    "was_cancelled",
                    "email",
                    "batch_id",
                    "created_at",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=_JSON)
def test_parse_export_never_raises(content):
    with tempfile.TemporaryDirectory() as tmp:
        parsed = parse_export(_write(Path(tmp), content))
    assert {r["reason"] for r in parsed.rejected} <= set(REJECT_REASONS)
    for row in parsed.annotations:
        assert row["status"] in ("completed", "cancelled", "empty")
        assert (row["label"] in SENTIMENTS) == (row["status"] == "completed")
        assert isinstance(row["review_id"], str) and isinstance(row["rater"], str)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_parse_export_never_raises_on_a_damaged_real_export(data):
    export = [_good_task(1, "r1"), _good_task(2, "r2")]
    # replace one node somewhere in a real export by arbitrary JSON
    path_to = []
    node = export
    for _ in range(data.draw(st.integers(1, 6))):
        keys = list(range(len(node))) if isinstance(node, list) else list(node)
        if not keys:
            break
        key = data.draw(st.sampled_from(keys))
        path_to.append(key)
        if not isinstance(node[key], (list, dict)):
            break
        node = node[key]
    parent = export
    for key in path_to[:-1]:
        parent = parent[key]
    parent[path_to[-1]] = data.draw(_JSON)
    with tempfile.TemporaryDirectory() as tmp:
        parsed = parse_export(_write(Path(tmp), export))
    assert {r["reason"] for r in parsed.rejected} <= set(REJECT_REASONS)
    # every annotation keeps the review id of its task (the damage may have replaced one by another string)
    review_ids = [t["data"].get("review_id") for t in export if isinstance(t, dict) and isinstance(t.get("data"), dict)]
    assert all(r["review_id"] in review_ids for r in parsed.annotations)


# --- The server connector, where no server is needed ------------------------------------------------


def _token(expires_in: float) -> str:
    """A personal-access-token-shaped JWT (Label Studio's refresh tokens carry ``exp``), unsigned by any server."""
    import jwt

    return jwt.encode({"token_type": "refresh", "exp": int(time.time() + expires_in)}, "k" * 32, algorithm="HS256")


def test_the_connector_without_the_official_client_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "label_studio_sdk", None)  # as if the labelstudio extra were not installed
    server = LabelStudioServer(url="http://127.0.0.1:9", api_key="legacy-token")
    with pytest.raises(LabelStudioError, match=r"data_platform\[labelstudio\]"):
        server.ensure_project()


@pytest.mark.parametrize("api_key", ["legacy-token", _token(3600)], ids=["legacy token", "personal access token"])
def test_a_server_that_does_not_answer_is_a_labelstudio_error(api_key):
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens: the connection is refused at once
    server = LabelStudioServer(url=url, api_key=api_key)
    # a personal access token fails at its exchange for an access token, a legacy token at the call itself
    with pytest.raises(LabelStudioError, match=rf"^list projects: no answer from {url} \(ConnectError"):
        server.ensure_project()
    with pytest.raises(LabelStudioError, match=r"^export project 3: no answer"):
        server.pull_annotations(3, Path("unused"))


def test_an_expired_personal_access_token_is_refused_before_any_call():
    server = LabelStudioServer(url=f"http://127.0.0.1:{free_port()}", api_key=_token(-60))
    with pytest.raises(LabelStudioError, match=r"^sign in: 401 .*expired"):
        server.export(1)


def test_a_server_under_a_path_prefix_gets_every_call_there_and_its_refusal_is_a_labelstudio_error():
    """Behind a reverse proxy at ``/label-studio`` the token exchange goes there too, and an error status
    becomes a LabelStudioError with the status and the start of the body, never the key."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    paths = []

    class Refuse(BaseHTTPRequestHandler):
        def _refuse(self):
            paths.append(self.path.split("?")[0])
            body = json.dumps({"detail": "Token is invalid or expired"}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _refuse

        def log_message(self, *args):  # keep the test output quiet
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Refuse) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            token = _token(3600)
            for url_tail, api_key in (("/label-studio", token), ("/label-studio/", "legacy-token")):
                server = LabelStudioServer(url=f"http://127.0.0.1:{httpd.server_port}{url_tail}", api_key=api_key)
                with pytest.raises(LabelStudioError, match=r"^list projects: 401 .*Token is invalid") as refused:
                    server.ensure_project()
                assert api_key not in str(refused.value)
        finally:
            httpd.shutdown()
    assert paths == ["/label-studio/api/token/refresh/", "/label-studio/api/projects/"]


def test_the_sync_command_says_in_one_line_why_the_server_failed(monkeypatch, tmp_path, capsys):
    from data_platform import cli

    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("LABEL_STUDIO_URL", url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "legacy-token")
    monkeypatch.setenv("DATA_PLATFORM_LANDING", str(tmp_path / "landing"))
    assert cli.main(["label-studio-sync"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"label studio: list projects: no answer from {url}") and "Traceback" not in err
    monkeypatch.delenv("LABEL_STUDIO_API_KEY")
    assert cli.main(["label-studio-sync"]) == 2  # not configured: nothing to talk to


@pytest.mark.slow
def test_loading_the_definitions_with_a_server_configured_does_not_import_the_client():
    """The official client takes about a second to import: only a run that talks to the server pays it."""
    probe = (
        "import sys, data_platform.definitions as d; "
        "print(d.defs.resolve_job_def('label_studio_sync').name, 'label_studio_sdk' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        env=child_env({"LABEL_STUDIO_URL": "http://127.0.0.1:9", "LABEL_STUDIO_API_KEY": "legacy-token"}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["label_studio_sync", "False"]
