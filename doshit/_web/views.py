"""What the HTTP API answers, as JSON-ready data: tasks, rows, queues, workers. No I/O.

Everything here comes from Redis, where anyone may have written anything: text that is not UTF-8 is
escaped (``\\xNN``), datetimes become schema timestamps, numbers that JSON cannot hold become null.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from .._core import codec
from .._core.schema import State, TaskField, WorkerField
from .._core.text import is_utf8
from .._ops.queries import QueueStats, TaskRow, WorkerRow, decode_fields
from .metrics import OUTCOMES, parse_seconds


class Shutdown:
    """Set when the server stops: long polls and event streams end at their next look (within a
    second), so that a graceful stop does not wait for them."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    @property
    def is_set(self) -> bool:
        return self._set


def jsonable(value: Any) -> Any:
    """The value with datetimes as schema timestamps, text that is not UTF-8 escaped, and NaN and the
    infinities as None, for json.dumps."""
    if isinstance(value, str):
        return value if is_utf8(value) else value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, datetime):
        return codec.format_timestamp(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {jsonable(str(key)): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def task_json(task_id: str, key: str, fields: dict[str, str]) -> dict[str, Any]:
    """A task as ``doshit show --json`` prints it (id, key, fields raw, decoded, problems), with its
    state (a finished task's result: successful or failed) and whether it is finished."""
    views = decode_fields(fields)
    return {
        "id": task_id,
        "key": key,
        "state": TaskRow(task_id, fields).state or None,
        State.FINISHED: fields.get(TaskField.STATE) == State.FINISHED,
        "fields": fields,
        "decoded": {view.name: view.value for view in views if view.problem is None and view.kind is not None},
        "problems": {view.name: view.problem for view in views if view.problem is not None},
    }


def row_json(row: TaskRow) -> dict[str, Any]:
    """A task of a listing."""
    return {
        **row.as_dict(),
        "queue": row.fields.get(TaskField.QUEUE),
        "function": row.fields.get(TaskField.FUNCTION),
        "submitted": row.fields.get(TaskField.PENDING_CREATED),
    }


def queue_json(row: QueueStats, done: dict[str, int]) -> dict[str, Any]:
    """A queue's counts, and its tasks done by outcome (from the stats hash)."""
    return {**row.as_dict(), "done": {outcome: done.get(outcome, 0) for outcome in OUTCOMES}}


def worker_json(row: WorkerRow, now: float) -> dict[str, Any]:
    """A live worker, as ``doshit workers --json`` shows it, with its busy seconds."""
    return {**row.as_dict(now), "busy_seconds": parse_seconds(row.fields.get(WorkerField.BUSY_SECONDS))}
