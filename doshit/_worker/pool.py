"""Where a worker's tasks run: the Pool interface, how a task is stopped before it starts, and the
inline pool (the process pool is in process_pool.py).

A pool takes a Job and returns its Outcome; it never raises for a task's failure. Each job comes with
a ``stop`` future: set before the task starts, the pool does not start it and raises NotStarted with
what was set. A kill of a task that already runs goes through ``Pool.kill``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, Union

from .._core.limits import DEFAULT_LIMITS, Limits
from .._core.outcome import Outcome, failed
from .._core.schema import Reason
from .._core.worker_rules import Job
from .._logs import LOG_FORMATS
from .context import Report, TaskContext
from .registry import Registry
from .runner import run_call_async


@dataclass(frozen=True)
class ChildOptions:
    """How tasks run: the worker's limits, and when the process pool replaces a child between two
    tasks (after ``max_tasks`` tasks, or once its resident memory is above ``max_memory`` bytes)."""

    limits: Limits = DEFAULT_LIMITS
    max_tasks: int | None = None
    max_memory: int | None = None
    log_format: str = LOG_FORMATS[0]

    def __post_init__(self) -> None:
        for name in ("max_tasks", "max_memory"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.log_format not in LOG_FORMATS:
            raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}")


@dataclass(frozen=True)
class Kill:
    """The task is to be killed: it fails with ``reason``."""

    reason: str


class GiveBack:
    """The worker is shutting down before the task started: it goes back to pending, as if never taken."""

    def __repr__(self) -> str:
        return "GIVE_BACK"


GIVE_BACK = GiveBack()

Stop = Union[Kill, GiveBack]  # noqa: UP007 - a runtime alias, kept 3.10-friendly


class NotStarted(Exception):
    """The task was stopped before it started: it never ran."""

    def __init__(self, stop: Stop) -> None:
        super().__init__(stop)
        self.stop = stop


class Pool(Protocol):
    kind: str
    size: int
    ahead: int
    """How many tasks it takes beyond ``size``, to wait for a free slot."""

    async def start(self) -> None: ...

    worker_id: str

    async def run(
        self, job: Job, stop: asyncio.Future[Stop], started: Callable[[], None], report: Report | None = None
    ) -> Outcome:
        """Run the job (``started`` is called just before it starts), unless ``stop`` is set first.
        ``report`` gets the progress the task reports (JSON text), when it asks for a TaskContext."""
        ...

    def kill(self, task_id: str, reason: str) -> bool:
        """Kill a task that runs now; False if none of that id runs."""
        ...

    async def close(self) -> None: ...


def _threadsafe(report: Report | None) -> Report | None:
    """``report`` callable from any thread (a plain function runs in one; progress timers too)."""
    if report is None:
        return None
    loop = asyncio.get_running_loop()

    def call(value: str) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(report, value)

    return call


class InlinePool:
    """Tasks run in the worker process: ``async def`` functions on its loop, plain ones in threads.

    For I/O-bound work. A kill cancels an async task; a plain function in a thread cannot be
    interrupted, so its task is recorded as killed and the thread runs on until the function returns.
    """

    kind = "inline"
    ahead = 0

    def __init__(self, registry: Registry, size: int, limits: Limits = DEFAULT_LIMITS) -> None:
        self.registry = registry
        self.size = size
        self.limits = limits
        self.worker_id = ""
        self._running: dict[str, tuple[asyncio.Task[Outcome], list[str]]] = {}

    async def start(self) -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(self.size, "doshit-task"))

    async def run(
        self, job: Job, stop: asyncio.Future[Stop], started: Callable[[], None], report: Report | None = None
    ) -> Outcome:
        if stop.done():
            raise NotStarted(stop.result())
        if job.memory_limit is not None:
            return failed(Reason.MEMORY_LIMIT_INLINE)
        started()
        context = None
        if self.registry.context_parameter(job.function) is not None:
            context = TaskContext(
                job.task_id, job.function, job.queue, self.worker_id, job.attempt, _threadsafe(report)
            )
        call = asyncio.create_task(run_call_async(self.registry, job.function, job.args, self.limits, context))
        reasons: list[str] = []
        self._running[job.task_id] = (call, reasons)
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            if not reasons:
                raise
            return failed(reasons[0], "cancelled by the worker")
        finally:
            del self._running[job.task_id]

    def kill(self, task_id: str, reason: str) -> bool:
        entry = self._running.get(task_id)
        if entry is None:
            return False
        call, reasons = entry
        reasons.append(reason)
        call.cancel()
        return True

    async def close(self) -> None:
        pass
