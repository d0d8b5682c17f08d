"""What happens in a worker, for the code that wants to know: events and the hooks that hear them.

A hook is a plain or ``async def`` function taking an :class:`Event`, or, for failures, a command
(an argv list, run without a shell). Hooks run in the worker process, outside the task's slot, one at
a time in the order the events happened, each with a time limit; a hook that fails or runs over its
limit is logged and the worker carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Union

import orjson

from .._process import killed_with_parent

log = logging.getLogger("doshit.worker")

EVENTS = (
    "worker_started",
    "worker_stopped",
    "task_fetched",
    "task_started",
    "task_succeeded",
    "task_failed",
    "task_retried",
    "task_recovered",
)
"""Every kind of event, in the order a task meets them (a worker's own first and last)."""

HOOK_TIMEOUT = 10.0
"""Default seconds a hook may take before it is given up on (a command hook is killed)."""
BACKLOG = 10_000
"""Events waiting for their hooks beyond this many are dropped (with one warning per hundred)."""
META_KEPT = 1000
"""The meta fields of this many tasks are kept between their events."""
ENDS = ("task_succeeded", "task_failed", "task_retried", "task_recovered")
"""The events after which a task's meta is read again if needed."""
OUTPUT_KEPT = 2000
"""Characters of a command hook's output that reach the worker's log when it fails."""

Hook = Callable[["Event"], Any]
FailureHook = Union[Hook, Sequence[str]]  # noqa: UP007 - a runtime alias, kept 3.10-friendly


@dataclass(frozen=True)
class Event:
    """One thing that happened in a worker. Task events carry the task's id, function, queue and
    attempt; ``duration`` is the run's seconds (succeeded, failed, retried), ``reason`` and
    ``exception`` a failure's error-reason and error-exception, ``delay`` a retry's seconds before it
    runs again, ``meta`` the task's meta field (producer metadata such as a trace context)."""

    kind: str
    worker_id: str
    queue: str
    task_id: str | None = None
    function: str | None = None
    attempt: int | None = None
    duration: float | None = None
    reason: str | None = None
    exception: str | None = None
    delay: float | None = None
    dead_worker: str | None = None
    """task_recovered: the worker that died holding the task."""
    meta: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def to_json(self) -> bytes:
        fields = asdict(self)
        fields["at"] = self.at.isoformat()
        return orjson.dumps({name: value for name, value in fields.items() if value is not None})


def check_failure_hook(hook: object) -> FailureHook | None:
    """The hook itself: None, a callable, or a non-empty argv of strings; ValueError for anything else."""
    if hook is None or callable(hook):
        return hook
    if (
        isinstance(hook, Sequence)
        and not isinstance(hook, (str, bytes))
        and hook
        and all(isinstance(arg, str) for arg in hook)
    ):
        return list(hook)
    raise ValueError(f"a failure hook is a function or a command as a list of strings (no shell), got {hook!r}")


def run_command(argv: Sequence[str], event: Event, timeout: float) -> None:
    """Run a failure command: the event as JSON on stdin and as DOSHIT_* environment variables, in a
    process group of its own that is killed at the time limit. Raises on a non-zero exit."""
    env = dict(os.environ)
    for name, value in (
        ("TASK_ID", event.task_id), ("FUNCTION", event.function), ("QUEUE", event.queue),
        ("REASON", event.reason), ("ATTEMPT", event.attempt), ("WORKER", event.worker_id),
    ):  # fmt: skip
        if value is not None:
            env[f"DOSHIT_{name}"] = str(value)
    proc = subprocess.Popen(
        list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        start_new_session=True, preexec_fn=killed_with_parent,
    )  # fmt: skip
    try:
        output, _ = proc.communicate(event.to_json(), timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise TimeoutError(f"command {argv[0]} ran over its time limit of {timeout:g} s and was killed") from None
    finally:
        with contextlib.suppress(ProcessLookupError):  # what it left behind in its group
            os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode != 0:
        text = output.decode("utf-8", "replace")[-OUTPUT_KEPT:]
        raise RuntimeError(f"command {argv[0]} exited with status {proc.returncode}: {text.strip()}")


class Hooks:
    """Hands each event to the hooks that want it, from a task of its own (``run``)."""

    def __init__(
        self,
        hooks: dict[str, list[Hook]],
        failure: Callable[[str | None], FailureHook | None],
        timeout: float = HOOK_TIMEOUT,
        meta: Callable[[str], Awaitable[dict[str, Any]]] | None = None,
    ) -> None:
        self.hooks = hooks
        self.failure = failure
        """The failure hook of a function (its own, else the worker's), by function name."""
        self.timeout = timeout
        self.meta = meta
        """Reads a task's meta field (producer metadata), for the events of tasks."""
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._metas: dict[str, dict[str, Any]] = {}
        self.dropped = 0

    def wants(self, kind: str, function: str | None = None) -> bool:
        """Whether any hook hears events of this kind (for this function): else none is made."""
        return bool(self.hooks.get(kind)) or (kind == "task_failed" and self.failure(function) is not None)

    def emit(self, event: Event) -> None:
        """Queue the event for its hooks. Callers ask ``wants`` first, so that no Event is built for
        a kind nobody listens to."""
        if self._queue.qsize() >= BACKLOG:
            self.dropped += 1
            if self.dropped % 100 == 1:
                log.warning("hooks are %d events behind: dropped %d event(s) so far", BACKLOG, self.dropped)
            return
        self._queue.put_nowait(event)

    async def run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._handle(event)
            finally:
                self._queue.task_done()

    async def drain(self, timeout: float) -> None:
        """Wait (up to ``timeout``) for the events already emitted to reach their hooks."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)

    async def _with_meta(self, event: Event) -> Event:
        if self.meta is None or event.task_id is None:
            return event
        meta = self._metas.get(event.task_id)
        if meta is None:
            try:
                meta = await self.meta(event.task_id)
            except Exception as exc:  # noqa: BLE001 - the event goes out without it
                log.debug("task %s: could not read its meta: %s", event.task_id, exc)
                meta = {}
            if len(self._metas) >= META_KEPT:
                self._metas.pop(next(iter(self._metas)))
            self._metas[event.task_id] = meta
        if event.kind in ENDS:
            self._metas.pop(event.task_id, None)
        return dataclasses.replace(event, meta=meta)

    async def _handle(self, event: Event) -> None:
        event = await self._with_meta(event)
        callbacks: list[FailureHook] = list(self.hooks.get(event.kind, []))
        if event.kind == "task_failed":
            hook = self.failure(event.function)
            if hook is not None:
                callbacks.append(hook)
        for hook in callbacks:
            try:  # a command kills itself at the limit; a moment more to hear how it ended
                await asyncio.wait_for(self._call(hook, event), self.timeout + (0 if callable(hook) else 2))
            except asyncio.TimeoutError:
                log.warning("%s hook %s ran over its time limit of %g s", event.kind, _name(hook), self.timeout)
            except Exception as exc:  # noqa: BLE001 - a hook's fault is logged, never the worker's end
                log.warning("%s hook %s failed: %s: %s", event.kind, _name(hook), type(exc).__name__, exc)

    async def _call(self, hook: FailureHook, event: Event) -> None:
        loop = asyncio.get_running_loop()
        if not callable(hook):
            await loop.run_in_executor(None, run_command, hook, event, self.timeout)
        elif inspect.iscoroutinefunction(hook):
            await hook(event)
        else:
            result = await loop.run_in_executor(None, hook, event)
            if inspect.isawaitable(result):
                await result


def _name(hook: FailureHook) -> str:
    if callable(hook):
        return getattr(hook, "__qualname__", repr(hook))
    argv = list(hook)
    return repr([*argv[:1], "..."] if len(argv) > 1 else argv)
