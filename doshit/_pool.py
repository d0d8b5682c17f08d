"""Where a worker's tasks run: long-lived child processes (the default) or the worker's own loop.

Both pools take a Job and return an Outcome; neither raises for a task's failure. A kill ends the
task's call with the given reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mmap
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from ._app import AppRef
from ._frames import HEADER, STARTED, started_page
from ._registry import Registry
from ._runner import Outcome, failed, run_call_async
from ._schema import Reason

log = logging.getLogger("doshit.worker")

KILL_STEPS = ((signal.SIGINT, 0.1),) * 10 + ((signal.SIGTERM, 1.0), (signal.SIGKILL, 0.0))
"""How a running task is killed: each signal, then how long to wait for the task to end. SIGINT is
sent again every 0.1 s for a second: a child ignores it outside a task, so one that arrives while
the task is still being handed over (or forked, under a memory limit) would otherwise be lost and
the kill would have to wait for SIGTERM, which also costs the child. A SIGINT sent just before the
task ended reaches the child before its next task can."""

RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Seconds before each attempt to start a child process again after a failed start."""


@dataclass(frozen=True)
class Job:
    """One claimed task, as a pool needs it."""

    task_id: str
    function: str
    args: str
    memory_limit: int | None


class Pool(Protocol):
    kind: str
    size: int
    ahead: int
    """How many tasks it takes beyond ``size``, to wait for a free slot."""

    async def start(self) -> None: ...

    async def run(self, job: Job) -> Outcome: ...

    def kill(self, task_id: str, reason: str) -> bool: ...

    def release_waiting(self, reason: str) -> None: ...

    async def close(self) -> None: ...


class ChildDied(Exception):
    """The child process ended while a call was in flight (or at start)."""


class NotHandedOver(Exception):
    """The child was dead before it got the task: the task did not start and can go to another."""


class Child:
    """One long-lived child process, in a process group of its own (Ctrl-C in a terminal reaches
    the worker, which then decides what happens to the tasks).

    Each task it is handed has a sequence number; the child writes that number into a small page of
    memory it shares with us (``started``) just before it runs the task. When the child dies, that
    page tells whether the task ever started, even if the child had already read the request.
    """

    def __init__(self, app: AppRef, number: int) -> None:
        self.app = app
        self.number = number
        self.proc: asyncio.subprocess.Process | None = None
        self.kill_reason: str | None = None
        self._started: mmap.mmap | None = None
        self._seq = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        fd = started_page()
        try:
            self._started = mmap.mmap(fd, STARTED.size)
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "doshit._child",
                *self.app.argv(),
                "--parent",
                str(os.getpid()),
                "--started",
                str(fd),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                start_new_session=True,
                pass_fds=(fd,),
            )
        finally:
            os.close(fd)  # the mappings keep the page
        try:
            hello = await self._read()
        except ChildDied:
            hello = {"error": f"exited with code {await self.proc.wait()} before it was ready"}
        if "error" in hello:
            await self.stop()
            raise ChildDied(f"child process could not load {self.app.spec}: {hello['error']}")
        log.debug("child %d started as pid %d", self.number, self.proc.pid)

    async def _read(self) -> Any:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            header = await self.proc.stdout.readexactly(HEADER.size)
            return orjson.loads(await self.proc.stdout.readexactly(HEADER.unpack(header)[0]))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ChildDied from exc

    async def call(self, job: Job) -> Outcome:
        assert self.proc is not None and self.proc.stdin is not None and self._started is not None
        self._seq += 1
        body = orjson.dumps([self._seq, job.function, job.args, job.memory_limit])
        try:
            self.proc.stdin.write(HEADER.pack(len(body)) + body)
            await self.proc.stdin.drain()
            return Outcome(*await self._read())
        except (ChildDied, ConnectionError):
            code = await self.proc.wait()
            if STARTED.unpack_from(self._started)[0] != self._seq:  # died before it began this task
                raise NotHandedOver from None
            log.warning(
                "child process %d (pid %d) died running task %s: exit code %d",
                self.number,
                self.proc.pid,
                job.task_id,
                code,
            )
            return failed(
                Reason.RETURNCODE.format(code=code),
                f"the worker's child process {self.proc.pid} exited with code {code} while running {job.function}"
                + (
                    f" (killed by signal {signal.Signals(-code).name})"
                    if code < 0 and -code in signal.valid_signals()
                    else ""
                ),
            )

    def signal(self, signum: int) -> None:
        if self.alive:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signum)

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 2.0)
        except asyncio.TimeoutError:
            self.signal(signal.SIGKILL)
            await self.proc.wait()


class NotStarted(Exception):
    """The task was stopped while it waited for a free slot: it never ran. ``reason`` is the kill's."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProcessPool:
    """``size`` long-lived child processes; a dead one is replaced before its next task.

    It takes ``ahead`` tasks more than it has children: those wait for the next free child, so no
    child waits for Redis between two tasks.
    """

    kind = "process"

    def __init__(self, app: AppRef, size: int) -> None:
        self.app = app
        self.size = size
        self.ahead = size
        self._children = [Child(app, n) for n in range(size)]
        self._idle: asyncio.Queue[Child] = asyncio.Queue()
        self._busy: dict[str, Child] = {}
        self._waiting: dict[str, asyncio.Future[str]] = {}
        """Tasks not yet in a child (waiting for one, or for a dead one's replacement); a kill sets the future."""
        self._killers: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        await asyncio.gather(*(child.start() for child in self._children))
        for child in self._children:
            self._idle.put_nowait(child)

    async def _ready(self, child: Child) -> Child:
        attempt = 0
        while not child.alive:
            try:
                await child.start()
                log.info("child process %d replaced (pid %s)", child.number, child.proc and child.proc.pid)
            except ChildDied as exc:
                delay = RESTART_DELAYS[min(attempt, len(RESTART_DELAYS) - 1)]
                log.error("%s; trying again in %.1f s", exc, delay)
                attempt += 1
                await asyncio.sleep(delay)
        return child

    async def _acquire(self, stop: asyncio.Future[str]) -> Child:
        """The next free, live child; NotStarted if ``stop`` is set first."""
        if not self._idle.empty():  # the common case: no waiting at all
            child = self._idle.get_nowait()
            if child.alive:
                return child
            self._idle.put_nowait(child)
        getter = asyncio.ensure_future(self._idle.get())
        await asyncio.wait((getter, stop), return_when=asyncio.FIRST_COMPLETED)
        if stop.done():
            if getter.done():
                self._idle.put_nowait(getter.result())
            else:
                getter.cancel()
            raise NotStarted(stop.result())
        child = getter.result()
        try:
            await self._ready(child)
        finally:
            if stop.done():
                self._idle.put_nowait(child)
        if stop.done():
            raise NotStarted(stop.result())
        return child

    async def run(self, job: Job) -> Outcome:
        stop: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting[job.task_id] = stop
        try:
            child = await self._acquire(stop)
        finally:
            del self._waiting[job.task_id]
        self._busy[job.task_id] = child
        child.kill_reason = None
        try:
            while True:
                try:
                    outcome = await child.call(job)
                    break
                except NotHandedOver:
                    log.warning(
                        "child process %d had died while idle; replacing it for task %s", child.number, job.task_id
                    )
                    await self._ready(child)
        finally:
            del self._busy[job.task_id]
            killer = self._killers.pop(job.task_id, None)
            if killer is not None:
                killer.cancel()
            self._idle.put_nowait(child)
        if child.kill_reason is not None and not outcome.ok:
            return failed(child.kill_reason, outcome.exception)
        return outcome

    def kill(self, task_id: str, reason: str) -> bool:
        stop = self._waiting.get(task_id)
        if stop is not None:
            if not stop.done():
                stop.set_result(reason)
            return True
        child = self._busy.get(task_id)
        if child is None or task_id in self._killers:
            return child is not None
        child.kill_reason = reason
        self._killers[task_id] = asyncio.create_task(self._escalate(child))
        return True

    def release_waiting(self, reason: str) -> None:
        """Stop every task that has not started yet: they raise NotStarted."""
        for stop in self._waiting.values():
            if not stop.done():
                stop.set_result(reason)

    async def _escalate(self, child: Child) -> None:
        for signum, grace in KILL_STEPS:
            child.signal(signum)
            await asyncio.sleep(grace)

    async def close(self) -> None:
        await asyncio.gather(*(child.stop() for child in self._children))


class InlinePool:
    """Tasks run in the worker process: ``async def`` functions on its loop, plain ones in threads.

    For I/O-bound work. A kill cancels an async task; a plain function in a thread cannot be
    interrupted, so its task is recorded as killed and the thread runs on until the function returns.
    """

    kind = "inline"
    ahead = 0

    def __init__(self, registry: Registry, size: int) -> None:
        self.registry = registry
        self.size = size
        self._running: dict[str, tuple[asyncio.Task[Outcome], list[str]]] = {}

    async def start(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(self.size, "doshit-task"))

    async def run(self, job: Job) -> Outcome:
        if job.memory_limit is not None:
            return failed(Reason.MEMORY_LIMIT_INLINE)
        call = asyncio.create_task(run_call_async(self.registry, job.function, job.args))
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

    def release_waiting(self, reason: str) -> None:
        pass

    async def close(self) -> None:
        pass


def make_pool(kind: str, registry: Registry, app: Callable[[], AppRef | None], size: int) -> Pool:
    if kind == "inline":
        return InlinePool(registry, size)
    ref = app()
    if ref is None:
        raise ValueError("the process pool needs to know where to import the registry from: pass app=AppRef(...)")
    return ProcessPool(ref, size)
