"""The task context: what a running function may know about its task, and how it reports progress.

A function asks for it with a parameter annotated ``TaskContext``; the worker passes it (callers do
not, and cannot). ``progress`` is throttled here, so a task may call it in a tight loop: at most one
write every ``PROGRESS_INTERVAL`` seconds reaches Redis, and the last value is always written before
the task's outcome.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from .._core import codec
from .._core.schema import ECHO_CHARS
from .._errors import EncodeError

PROGRESS_INTERVAL = 0.25
"""Seconds between two progress writes of one task, at least."""
MAX_PROGRESS_BYTES = 64 * 1024
"""A progress value larger than this as JSON is refused (ValueError in the task)."""

Report = Callable[[str], None]
"""Where the progress JSON text goes (a frame to the worker, or a write scheduled by it)."""


class TaskLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """A logger whose lines carry the task id (``[task ID] message``, and ``task_id`` in JSON logs)."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        return f"[task {extra.get('task_id')}] {msg}", kwargs


class TaskContext:
    """What a task may know about itself while it runs.

    ``task_id``, ``function``, ``queue``, ``worker_id`` and ``attempt`` (1 on the first run) describe
    the run; ``logger`` labels its lines with the task id; ``progress(value)`` records how far it got
    (a fraction from 0 to 1, or any JSON value such as ``{"done": 3, "of": 10}``) in the task hash's
    ``progress`` field, readable from every client and ``doshit show``.
    """

    def __init__(
        self,
        task_id: str,
        function: str,
        queue: str,
        worker_id: str,
        attempt: int,
        report: Report | None = None,
        interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self.task_id = task_id
        self.function = function
        self.queue = queue
        self.worker_id = worker_id
        self.attempt = attempt
        self.logger = TaskLogger(logging.getLogger(f"doshit.task.{function}"), {"task_id": task_id})
        self._report = report
        self._interval = interval
        self._lock = threading.Lock()
        self._last_sent = float("-inf")
        self._pending: str | None = None
        self._sent: str | None = None
        self._timer: threading.Timer | None = None

    def __repr__(self) -> str:
        return f"TaskContext(task_id={self.task_id!r}, function={self.function!r}, attempt={self.attempt})"

    def progress(self, value: Any) -> None:
        """Record how far the task got. Raises ValueError for a value that is not JSON (or too large)."""
        if isinstance(value, float) and not 0.0 <= value <= 1.0:
            raise ValueError(f"a progress fraction is from 0 to 1, got {value!r}")
        try:
            text = codec.encode(value)
        except EncodeError as exc:
            raise ValueError(f"progress must be a JSON value: {exc}") from None
        if len(text.encode("utf-8")) > MAX_PROGRESS_BYTES:
            raise ValueError(f"progress is larger than {MAX_PROGRESS_BYTES} bytes as JSON: {text[:ECHO_CHARS]}...")
        if self._report is None:
            return
        with self._lock:
            self._pending = text
            wait = self._last_sent + self._interval - time.monotonic()
            if wait <= 0:
                self._send_locked()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._send_later)
                self._timer.daemon = True
                self._timer.start()

    def _send_later(self) -> None:
        with self._lock:
            self._timer = None
            self._send_locked()

    def _send_locked(self) -> None:
        text, self._pending = self._pending, None
        if text is None or text == self._sent or self._report is None:
            return
        self._last_sent = time.monotonic()
        self._sent = text
        self._report(text)

    def flush(self) -> None:
        """Write the last value now (the worker calls this before the task's outcome), and stop."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._send_locked()
            self._report = None


def context_parameter(function: Callable[..., Any], signature: inspect.Signature) -> str | None:
    """The parameter of ``function`` annotated TaskContext (also as a string, under
    ``from __future__ import annotations``), if it has one."""
    for parameter in signature.parameters.values():
        annotation = parameter.annotation
        if annotation is TaskContext or (
            isinstance(annotation, str) and annotation.replace('"', "").replace("'", "").endswith("TaskContext")
        ):
            return parameter.name
    return None
