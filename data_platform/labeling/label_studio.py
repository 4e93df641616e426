"""Label Studio formats of the review sentiment project: labeling config, import tasks, export parsing,
and the connector to a running Label Studio server (:class:`LabelStudioServer`).

Raters label in Label Studio (https://labelstud.io): a batch of reviews goes out as a JSON list of
import tasks (:func:`build_tasks`, :func:`write_batch`, with :data:`LABELING_CONFIG` as the
project's labeling interface) and comes back as the project's full JSON export
(:func:`parse_export`). Only the "JSON" export is read, not "JSON_MIN" or CSV: the full export is
the one that keeps cancelled (skipped) annotations, the rater of each annotation and our task data.

A task carries only what a rater needs to see (review text, item, category) and the ids to join
back (review_id, batch_id): never why it was picked (active learning, random, gold), so raters
cannot tell gold items from the others.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import dagster as dg
from pydantic import PrivateAttr

from data_platform.labeling import SENTIMENTS

FROM_NAME = "sentiment"  # the Choices control
TO_NAME = "text"  # the Text object it labels

LABELING_CONFIG = (
    "<View>\n"
    '  <Header value="$category / item $item_id"/>\n'
    f'  <Text name={quoteattr(TO_NAME)} value="$text"/>\n'
    f'  <Choices name={quoteattr(FROM_NAME)} toName={quoteattr(TO_NAME)} choice="single" showInline="true">\n'
    + "".join(f"    <Choice value={quoteattr(s)}/>\n" for s in SENTIMENTS)
    + "  </Choices>\n"
    "</View>\n"
)
"""The project's labeling interface: the review text under a header with its category and item,
and one single-choice sentiment question (:data:`SENTIMENTS`)."""

TASK_DATA_KEYS = ("review_id", "batch_id", "text", "item_id", "category")
_ROW_KEYS = ("task_id", *TASK_DATA_KEYS, "predicted_label", "predicted_score")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

REJECT_REASONS: dict[str, str] = {
    "unreadable_file": "the file could not be read (missing, a directory, no permission)",
    "not_json": "the file is not UTF-8 JSON (for example truncated by an interrupted download)",
    "not_a_list": "the top level is not a list of tasks, as a Label Studio JSON export is",
    "task_not_an_object": "an item of the list is not a JSON object",
    "missing_review_id": "a task without data.review_id (a non-empty string); JSON_MIN rows land here",
    "malformed_annotation": "annotations is not a list, or an annotation, its result, was_cancelled or "
    "value.choices does not have the shape Label Studio writes",
    "missing_rater": "an annotation whose completed_by is neither a user id nor a user with an email or id",
    "missing_sentiment": "a non-empty result without a sentiment choice (from_name 'sentiment')",
    "unknown_choice": "a sentiment choice that is not one of SENTIMENTS",
    "multiple_choices": "more than one sentiment choice in one annotation",
}
"""Why part of an export could not be used (the ``reason`` of :attr:`ParsedExport.rejected`)."""


def choice_result(label: str) -> list[dict]:
    """The ``result`` of an annotation or prediction that picks ``label`` for the sentiment question."""
    return [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": [label]}}]


def build_tasks(rows: Iterable[dict], prediction_model: str) -> list[dict]:
    """Label Studio import tasks for reviews to label, with the current model's guess as a prediction.

    Each row has ``task_id`` (int, becomes the task ``id``), ``review_id``, ``batch_id``, ``text``,
    ``item_id``, ``category``, ``predicted_label`` (one of :data:`SENTIMENTS`, or None for no
    prediction) and ``predicted_score`` (finite float). Any other key (such as why the review was
    picked) is left out of the task on purpose. Raises ValueError on a missing key, a bad label,
    score or task id, or a task id or review id given twice.
    """
    tasks = []
    seen_tasks: set[int] = set()
    seen_reviews: set[str] = set()
    for n, row in enumerate(rows):
        missing = [k for k in _ROW_KEYS if k not in row]
        if missing:
            raise ValueError(f"row {n}: missing {', '.join(missing)}")
        task_id, review_id, label = row["task_id"], row["review_id"], row["predicted_label"]
        if not isinstance(task_id, Integral) or isinstance(task_id, bool):
            raise ValueError(f"row {n}: task_id must be an int, got {task_id!r}")
        if not isinstance(review_id, str) or not review_id:
            raise ValueError(f"row {n}: review_id must be a non-empty string, got {review_id!r}")
        if int(task_id) in seen_tasks or review_id in seen_reviews:
            raise ValueError(f"row {n}: task {task_id} / review {review_id} given twice")
        seen_tasks.add(int(task_id))
        seen_reviews.add(review_id)
        predictions = []
        if label is not None:
            score = row["predicted_score"]
            if label not in SENTIMENTS:
                raise ValueError(f"row {n}: predicted_label {label!r} is not one of {SENTIMENTS}")
            if not isinstance(score, Real) or isinstance(score, bool) or not math.isfinite(score):
                raise ValueError(f"row {n}: predicted_score must be a finite number, got {score!r}")
            predictions.append(
                {"model_version": prediction_model, "score": float(score), "result": choice_result(label)}
            )
        data = {k: row[k] for k in TASK_DATA_KEYS}
        tasks.append({"id": int(task_id), "data": data, "predictions": predictions})
    return tasks


def write_json_atomic(path: Path, value) -> Path:
    """Write ``value`` as JSON (UTF-8, indented) to ``path`` via a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def check_file_name(name: str) -> str:
    """``name`` if it is usable as a file name stem (letters, digits, ``.``, ``_``, ``-``), else ValueError."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name):
        raise ValueError(f"not a safe file name: {name!r}")
    return name


def write_batch(tasks: list[dict], out_dir: Path, batch_id: str) -> Path:
    """Write a batch for import: ``<out_dir>/<batch_id>.tasks.json`` and ``<out_dir>/labeling_config.xml``.

    Both files are written to a temporary name and renamed. Returns the tasks file's path.
    """
    out_dir = Path(out_dir)
    path = write_json_atomic(out_dir / f"{check_file_name(batch_id)}.tasks.json", tasks)
    config = out_dir / "labeling_config.xml"
    tmp = config.with_name(config.name + ".tmp")
    tmp.write_text(LABELING_CONFIG, encoding="utf-8")
    os.replace(tmp, config)
    return path


@dataclass
class ParsedExport:
    """What :func:`parse_export` got out of one export file.

    ``annotations``: one row per usable annotation: source_file, task_id, review_id, batch_id,
    rater, label (a sentiment, or None unless completed), status (``completed``, ``cancelled`` for a
    skipped task, ``empty`` for a submitted annotation without an answer), annotation_id, created_at.
    ``rejected``: one row per unusable part: source_file, task_index (None for the whole file),
    reason (a key of :data:`REJECT_REASONS`), detail.
    """

    annotations: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)


def parse_export(path: Path) -> ParsedExport:
    """Read a Label Studio full JSON export (the "JSON" format; "JSON_MIN" and CSV are not supported).

    Never raises on bad content: what cannot be used goes to ``rejected`` with a reason code from
    :data:`REJECT_REASONS` and the rest is kept. A file that cannot be read or parsed at all (for
    example truncated) gives a single rejected row. A bad task rejects the task; a bad annotation
    rejects only that annotation. ``source_file`` is the file's name.
    """
    path = Path(path)
    out = ParsedExport()
    source = path.name

    def reject(task_index: int | None, reason: str, detail: str) -> None:
        out.rejected.append({"source_file": source, "task_index": task_index, "reason": reason, "detail": detail})

    try:
        raw = path.read_bytes()
    except OSError as e:
        reject(None, "unreadable_file", f"{type(e).__name__}: {e.strerror or e}")
        return out
    try:
        tasks = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        reject(None, "not_json", f"{type(e).__name__}: {str(e)[:200]}")
        return out
    if not isinstance(tasks, list):
        reject(None, "not_a_list", f"top level is a JSON {_json_type(tasks)}")
        return out
    for index, task in enumerate(tasks):
        if not isinstance(task, dict):
            reject(index, "task_not_an_object", f"a JSON {_json_type(task)}")
            continue
        what = f"task {_short(task.get('id'))}"
        data = task.get("data")
        review_id = data.get("review_id") if isinstance(data, dict) else None
        if not isinstance(review_id, str) or not review_id:
            hint = "" if isinstance(data, dict) else " (a JSON_MIN export? only the full JSON export is read)"
            reject(index, "missing_review_id", f"{what}: data.review_id is {_short(review_id)}{hint}")
            continue
        annotations = task.get("annotations", [])
        if not isinstance(annotations, list):
            reject(index, "malformed_annotation", f"{what}: annotations is a JSON {_json_type(annotations)}")
            continue
        task_id = task.get("id")
        task_id = task_id if isinstance(task_id, int) and not isinstance(task_id, bool) else None
        batch_id = data.get("batch_id") if isinstance(data.get("batch_id"), str) else None
        for annotation in annotations:
            row, problem = _parse_annotation(annotation)
            if problem is not None:
                reject(index, problem[0], f"{what}: {problem[1]}")
                continue
            out.annotations.append(
                {"source_file": source, "task_id": task_id, "review_id": review_id, "batch_id": batch_id, **row}
            )
    return out


def _parse_annotation(annotation) -> tuple[dict | None, tuple[str, str] | None]:
    """(rater, label, status, annotation_id, created_at) of one annotation, or (None, (reason, detail))."""
    if not isinstance(annotation, dict):
        return None, ("malformed_annotation", f"an annotation is a JSON {_json_type(annotation)}")
    annotation_id = annotation.get("id")
    what = f"annotation {_short(annotation_id)}"
    rater = _rater(annotation.get("completed_by"))
    if rater is None:
        return None, ("missing_rater", f"{what}: completed_by is {_short(annotation.get('completed_by'))}")
    created_at = annotation.get("created_at")
    row = {
        "rater": rater,
        "label": None,
        "status": "completed",
        "annotation_id": annotation_id,
        "created_at": created_at if isinstance(created_at, str) else None,
    }
    cancelled = annotation.get("was_cancelled", False)
    if not isinstance(cancelled, bool):
        return None, ("malformed_annotation", f"{what}: was_cancelled is {_short(cancelled)}")
    if cancelled:
        return row | {"status": "cancelled"}, None
    result = annotation.get("result")
    if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
        return None, ("malformed_annotation", f"{what}: result is not a list of objects")
    if not result:
        return row | {"status": "empty"}, None
    answers = [r for r in result if r.get("from_name") == FROM_NAME]
    if not answers:
        names = sorted({str(r.get("from_name")) for r in result})
        return None, ("missing_sentiment", f"{what}: result has from_name {names}, no {FROM_NAME!r}")
    choices = []
    for answer in answers:
        value = answer.get("value")
        picked = value.get("choices") if isinstance(value, dict) else None
        if not isinstance(picked, list) or not all(isinstance(c, str) for c in picked):
            return None, ("malformed_annotation", f"{what}: value.choices is {_short(picked)}")
        choices += picked
    unknown = [c for c in choices if c not in SENTIMENTS]
    if unknown:
        return None, ("unknown_choice", f"{what}: choices {_short(unknown)}")
    if len(choices) > 1:
        return None, ("multiple_choices", f"{what}: choices {_short(choices)}")
    if not choices:
        return row | {"status": "empty"}, None
    return row | {"label": choices[0]}, None


def _rater(completed_by) -> str | None:
    """``user-<id>`` for a user id, the email of a user object (else its id), None otherwise."""
    if isinstance(completed_by, dict):
        email = completed_by.get("email")
        if isinstance(email, str) and email:
            return email
        completed_by = completed_by.get("id")
    if isinstance(completed_by, int) and not isinstance(completed_by, bool):
        return f"user-{completed_by}"
    return None


def _short(value, limit: int = 80) -> str:
    """``repr`` of a value from a file, cut to ``limit`` characters (for rejection details)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value) -> str:
    """The JSON type name of a parsed value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {dict: "object", list: "array", str: "string", int: "number", float: "number"}.get(type(value), "value")


# --- Label Studio as a running server (the official client, label-studio-sdk) ---------------------

LABEL_STUDIO_URL_ENV = "LABEL_STUDIO_URL"
LABEL_STUDIO_TOKEN_ENV = "LABEL_STUDIO_API_KEY"
SERVER_EXPORT_PREFIX = "labelstudio-project-"
SDK_MISSING = (
    "the Label Studio connector needs the official client: pip install 'data_platform[labelstudio]' (label-studio-sdk)"
)


class LabelStudioError(RuntimeError):
    """A Label Studio API call failed (the message says what was asked, the status and the start of the
    response), the server did not answer, or the official client is not installed."""


def _sdk():
    """The official client's package (``label_studio_sdk``), imported on first use: it is an optional
    extra, and importing it takes about a second (pandas, pydantic models of the whole API)."""
    try:
        import label_studio_sdk
    except ImportError as e:
        raise LabelStudioError(SDK_MISSING) from e
    return label_studio_sdk


class LabelStudioServer(dg.ConfigurableResource):
    """A running Label Studio server, reached through the official client (``label-studio-sdk``, the
    ``labelstudio`` extra; imported on first use, so loading the definitions never needs it).

    ``url`` and ``api_key`` come from the environment (``LABEL_STUDIO_URL``, ``LABEL_STUDIO_API_KEY``:
    see :meth:`from_env`), never from code. ``api_key`` is either a personal access token (a JWT,
    the default kind in Label Studio 1.23) or a legacy token (only when the organization enabled
    legacy tokens); the client tells them apart, and for a personal access token it fetches a
    short-lived access token at ``/api/token/refresh/`` and renews it when it expires.

    The connector pushes a task batch (the same tasks :func:`build_tasks` writes for the file route,
    predictions included as pre-annotations) into the project named ``project_title`` (created with
    :data:`LABELING_CONFIG` if missing) and pulls the project's full JSON export back into the landing
    folder, where the file route's parser (:func:`parse_export`) and the annotation sensor read it.
    Every failure is a :class:`LabelStudioError`.
    """

    url: str
    api_key: str
    project_title: str = "data_platform review sentiment"
    timeout_seconds: float = 60.0

    _client: Any = PrivateAttr(default=None)

    @classmethod
    def from_env(cls) -> LabelStudioServer | None:
        """The server named by ``LABEL_STUDIO_URL`` and ``LABEL_STUDIO_API_KEY`` (as Dagster ``EnvVar``
        values, so the secret never lands in run config), or None when they are not both set: then
        the file round trip is the only route."""
        if not (os.environ.get(LABEL_STUDIO_URL_ENV) and os.environ.get(LABEL_STUDIO_TOKEN_ENV)):
            return None
        return cls(url=dg.EnvVar(LABEL_STUDIO_URL_ENV), api_key=dg.EnvVar(LABEL_STUDIO_TOKEN_ENV))

    # -- the client ----------------------------------------------------------------------------------

    @property
    def client(self):
        """The official client (``label_studio_sdk.LabelStudio``) for this server, made on first use
        and kept, so a personal access token is exchanged once and its access token reused until it
        expires. Raises :class:`LabelStudioError` when ``label-studio-sdk`` is not installed or the
        token is an expired personal access token."""
        if self._client is None:
            with self._answer("sign in"):
                # The trailing slash keeps a server under a path prefix (https://host/label-studio)
                # whole: the client joins its token refresh URL with urljoin, which drops the last
                # path segment of a base URL without one (its other calls strip the slash again).
                self._client = _sdk().LabelStudio(
                    base_url=self.url.rstrip("/") + "/", api_key=self.api_key, timeout=self.timeout_seconds
                )
        return self._client

    @contextmanager
    def _answer(self, what: str) -> Iterator[None]:
        """Turn the client's errors inside the block into :class:`LabelStudioError`: an error status
        (with the start of the response body), no answer at all, or an answer that is not JSON."""
        _sdk()
        from httpx import HTTPError  # the client's HTTP library, installed with it
        from label_studio_sdk.core.api_error import ApiError

        try:
            yield
        except ApiError as e:
            body = e.body if isinstance(e.body, str) else json.dumps(e.body, ensure_ascii=False, default=str)
            raise LabelStudioError(f"{what}: {e.status_code} {body[:300]}") from e
        except HTTPError as e:
            raise LabelStudioError(f"{what}: no answer from {self.url} ({type(e).__name__}: {e})") from e
        except json.JSONDecodeError as e:  # an export that is not JSON; the client's token refresh also
            # parses an error body without checking that it is JSON (a proxy's HTML page, say)
            raise LabelStudioError(f"{what}: the answer is not JSON ({e})") from e

    # -- projects, tasks, exports --------------------------------------------------------------------

    def ensure_project(self) -> int:
        """The id of the project titled ``project_title``; created with the labeling config if missing."""
        with self._answer("list projects"):
            # the title filter matches substrings (case-insensitive): keep the exact title
            for project in self.client.projects.list(title=self.project_title, page_size=100):
                if project.title == self.project_title:
                    return int(project.id)
        with self._answer("create project"):
            created = self.client.projects.create(
                title=self.project_title,
                label_config=LABELING_CONFIG,
                description="Review sentiment tasks pushed by data_platform (labels/annotation_tasks).",
            )
        return int(created.id)

    def export(self, project_id: int, all_tasks: bool = False) -> list[dict]:
        """The project's full JSON export (the "JSON" format the file route reads), made synchronously
        by the server; only tasks with annotations unless ``all_tasks``."""
        with self._answer(f"export project {project_id}"):
            chunks = self.client.projects.exports.download_sync(
                project_id, export_type="JSON", download_all_tasks=all_tasks
            )
            return json.loads(b"".join(chunks))

    def push_batch(self, tasks: list[dict], project_id: int | None = None) -> dict:
        """Import a batch of tasks (as :func:`build_tasks` makes them) with their predictions as
        pre-annotations. Idempotent: reviews already in the project for the same batch are not
        imported again. Returns ``{"project_id", "imported", "already_there"}``."""
        project_id = project_id or self.ensure_project()
        present = {
            (t["data"].get("batch_id"), t["data"].get("review_id"))
            for t in self.export(project_id, all_tasks=True)
            if isinstance(t.get("data"), dict)
        }
        # Label Studio numbers tasks itself: our task id stays in the data, the rest is unchanged
        new = [
            {"data": {**t["data"], "platform_task_id": t["id"]}, "predictions": t.get("predictions", [])}
            for t in tasks
            if (t["data"]["batch_id"], t["data"]["review_id"]) not in present
        ]
        if new:
            with self._answer(f"import {len(new)} tasks into project {project_id}"):
                self.client.projects.import_tasks(project_id, request=new)
        return {"project_id": project_id, "imported": len(new), "already_there": len(tasks) - len(new)}

    def pull_annotations(self, project_id: int, landing_root: Path) -> Path:
        """Write the project's export (annotated tasks) to
        ``<landing_root>/annotations/labelstudio-project-<id>.json``, where the annotation sensor and
        :func:`parse_export` pick it up like any exported file. Rewritten only when its content
        changed, so an unchanged project does not wake the sensor."""
        export = self.export(project_id)
        for task in export:  # give each task back the platform's task id, so rows join labels.tasks
            data = task.get("data") if isinstance(task, dict) else None
            if isinstance(data, dict) and isinstance(data.get("platform_task_id"), int):
                task["labelstudio_task_id"] = task.get("id")
                task["id"] = data["platform_task_id"]
        path = Path(landing_root) / "annotations" / f"{SERVER_EXPORT_PREFIX}{int(project_id)}.json"
        body = json.dumps(export, ensure_ascii=False, indent=2) + "\n"
        if path.exists() and path.read_text(encoding="utf-8") == body:
            return path
        return write_json_atomic(path, export)
