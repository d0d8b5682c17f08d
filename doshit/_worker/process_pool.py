"""The process pool: tasks run in long-lived child processes (``python -m doshit._worker.child``)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import mmap
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._core.backoff import Backoff
from .._core.outcome import Outcome, failed
from .._core.schema import KILL_ESCALATION, Reason
from .._core.worker_rules import Job
from .app import AppRef
from .context import Report
from .frames import STARTED, Request, outcome_from, pack, read_frame_async, started_page
from .pool import ChildOptions, NotStarted, Stop

log = logging.getLogger("doshit.worker")

KILL_STEPS = tuple((signal.Signals[name], wait) for name, times, wait in KILL_ESCALATION for _ in range(times))
"""How a running task is killed: each signal, then how long to wait for the task to end (the schema's
kill_escalation). A SIGINT sent just before the task ended reaches the child before its next task can."""

RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Seconds before each attempt to start a child process again after a failed start."""

EXIT_GRACE = 0.5
"""Seconds a dead child's output pipe may stay open (a process it started may still hold it) before
the worker stops waiting for the child's last words and deals with its death."""


def resident_memory(pid: int) -> int | None:
    """The resident memory of a process in bytes (Linux), else None."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


class _ChildProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The child's pipes as asyncio streams, and ``exited``, set as soon as the process has exited.
    (asyncio's own Process.wait() waits for the pipes to close too, which a process the child started
    may hold open for as long as it lives.)"""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=2**16, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


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

    def __init__(self, app: AppRef, number: int, options: ChildOptions) -> None:
        self.app = app
        self.number = number
        self.options = options
        self.proc: asyncio.subprocess.Process | None = None
        self.kill_reason: str | None = None
        self.tasks = 0
        """Tasks it ran since it started."""
        self._exited: asyncio.Future[None] | None = None
        self._started: mmap.mmap | None = None
        self._seq = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        fd = started_page()
        try:
            self._started = mmap.mmap(fd, STARTED.size)
            loop = asyncio.get_running_loop()
            transport, protocol = await loop.subprocess_exec(
                lambda: _ChildProtocol(loop),
                sys.executable, "-m", "doshit._worker.child", *self.app.argv(),
                "--parent", str(os.getpid()), "--started", str(fd), "--log-format", self.options.log_format,
                *self.options.limits.argv(),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=None,  # stderr: the worker's
                start_new_session=True, pass_fds=(fd,),
            )  # fmt: skip
        finally:
            os.close(fd)  # the mappings keep the page
        self.proc = asyncio.subprocess.Process(transport, protocol, loop)
        self.tasks = 0
        self._exited = protocol.exited
        self._exited.add_done_callback(functools.partial(self._on_exit, self.proc))
        try:
            hello = await self._read()
        except ChildDied:
            hello = {"error": f"exited with code {await self.returncode()} before it was ready"}
        if "error" in hello:
            await self.stop()
            raise ChildDied(f"child process could not load {self.app.spec}: {hello['error']}")
        log.debug("child %d started as pid %d", self.number, self.proc.pid)

    @staticmethod
    def _on_exit(proc: asyncio.subprocess.Process, exited: asyncio.Future[None]) -> None:
        """The child exited: end its output too, a moment later (a process it started may hold the pipe
        open, and the worker must not wait for that one to learn that its child is dead), and kill
        what is left of its process group."""
        if proc.stdout is not None:
            asyncio.get_running_loop().call_later(EXIT_GRACE, proc.stdout.feed_eof)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    async def returncode(self) -> int:
        """The child's exit status, once it has exited."""
        assert self.proc is not None and self._exited is not None
        await asyncio.shield(self._exited)
        code = self.proc.returncode
        assert code is not None
        return code

    @property
    def worn_out(self) -> bool:
        """Due to be replaced before its next task: it ran its share of tasks, or holds too much memory."""
        options = self.options
        if options.max_tasks is not None and self.tasks >= options.max_tasks:
            return True
        if options.max_memory is not None and self.proc is not None:
            used = resident_memory(self.proc.pid)
            return used is not None and used > options.max_memory
        return False

    async def _read(self) -> Any:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            return await read_frame_async(self.proc.stdout)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ChildDied from exc

    async def call(self, job: Job, worker_id: str = "", report: Report | None = None) -> Outcome:
        assert self.proc is not None and self.proc.stdin is not None and self._started is not None
        self._seq += 1
        request = Request(
            self._seq, job.task_id, job.function, job.args, job.memory_limit, job.attempt, job.queue, worker_id
        )
        try:
            self.proc.stdin.write(pack(list(request)))
            await self.proc.stdin.drain()
            message = await self._read()
            while isinstance(message, dict):  # progress reports come before the outcome
                if report is not None and isinstance(message.get("progress"), str):
                    report(message["progress"])
                message = await self._read()
            outcome = outcome_from(message)
            self.tasks += 1
            return outcome
        except (ChildDied, ConnectionError):
            code = await self.returncode()
            if STARTED.unpack_from(self._started)[0] != self._seq:  # died before it began this task
                raise NotHandedOver from None
            log.warning(
                "child process %d (pid %d) died running task %s: exit code %d",
                self.number, self.proc.pid, job.task_id, code,
            )  # fmt: skip
            killed = f" (killed by signal {signal.Signals(-code).name})" if -code in signal.valid_signals() else ""
            return failed(
                Reason.RETURNCODE.format(code=code),
                f"the worker's child process {self.proc.pid} exited with code {code} while running "
                f"{job.function}{killed}",
                retryable=True,
            )

    def signal(self, signum: int) -> None:
        if self.alive:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signum)

    def kill_group(self) -> None:
        """Kill what is left of the child's process group: processes its tasks started, once it is dead."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.returncode(), 2.0)
        except asyncio.TimeoutError:
            self.signal(signal.SIGKILL)
            await self.returncode()
        self.kill_group()


class ProcessPool:
    """``size`` long-lived child processes; a dead one is replaced before its next task.

    It takes ``ahead`` tasks more than it has children: those wait for the next free child, so no
    child waits for Redis between two tasks.
    """

    kind = "process"

    def __init__(self, app: AppRef, size: int, options: ChildOptions | None = None) -> None:
        self.app = app
        self.size = size
        self.ahead = size
        self.worker_id = ""
        """The id of the worker the pool runs tasks for (the tasks' context tells it)."""
        self._children = [Child(app, n, options or ChildOptions()) for n in range(size)]
        self._idle: collections.deque[Child] = collections.deque()
        self._waiters: collections.deque[asyncio.Future[Child]] = collections.deque()
        """Tasks waiting for a child, first come first served."""
        self._busy: dict[str, Child] = {}
        self._killers: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        await asyncio.gather(*(child.start() for child in self._children))
        for child in self._children:
            self._release(child)

    async def _ready(self, child: Child) -> Child:
        if child.alive and child.worn_out:
            log.info("child process %d (pid %s) replaced after %d task(s)", child.number, child.proc and child.proc.pid,
                     child.tasks)  # fmt: skip
            await child.stop()
        backoff = Backoff(RESTART_DELAYS)
        while not child.alive:
            try:
                await child.start()
                log.info("child process %d replaced (pid %s)", child.number, child.proc and child.proc.pid)
            except ChildDied as exc:
                delay = backoff.failed()
                log.error("%s; trying again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
        return child

    def _release(self, child: Child) -> None:
        """A child is free: to the task that has waited longest for one, else back to the idle ones.
        (Handed over directly, so a task that comes later never overtakes one that waits.)"""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(child)
                return
        self._idle.append(child)

    async def _acquire(self, stop: asyncio.Future[Stop]) -> Child:
        """The next free, live child, in the order tasks asked; NotStarted if ``stop`` is set first."""
        if stop.done():
            raise NotStarted(stop.result())
        if self._idle and not self._waiters:  # the common case: no waiting at all
            child = self._idle.popleft()
        else:
            waiter: asyncio.Future[Child] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait((waiter, stop), return_when=asyncio.FIRST_COMPLETED)
            except BaseException:  # cancelled while waiting: a child handed over meanwhile goes on
                if waiter.done() and not waiter.cancelled():
                    self._release(waiter.result())
                waiter.cancel()
                raise
            if not waiter.done():  # stopped first (the cancelled waiter is skipped when its turn comes)
                waiter.cancel()
                raise NotStarted(stop.result())
            child = waiter.result()
        if stop.done():
            self._release(child)
            raise NotStarted(stop.result())
        try:
            await self._ready(child)
        except BaseException:
            self._release(child)
            raise
        if stop.done():
            self._release(child)
            raise NotStarted(stop.result())
        return child

    async def run(
        self, job: Job, stop: asyncio.Future[Stop], started: Callable[[], None], report: Report | None = None
    ) -> Outcome:
        child = await self._acquire(stop)
        self._busy[job.task_id] = child
        child.kill_reason = None
        started()
        try:
            while True:
                try:
                    outcome = await child.call(job, self.worker_id, report)
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
            self._release(child)
        if child.kill_reason is not None and not outcome.ok:
            return failed(child.kill_reason, outcome.exception)
        return outcome

    def kill(self, task_id: str, reason: str) -> bool:
        child = self._busy.get(task_id)
        if child is None or task_id in self._killers:
            return child is not None
        child.kill_reason = reason
        self._killers[task_id] = asyncio.create_task(self._escalate(child))
        return True

    async def _escalate(self, child: Child) -> None:
        for signum, grace in KILL_STEPS:
            child.signal(signum)
            await asyncio.sleep(grace)

    async def close(self) -> None:
        await asyncio.gather(*(child.stop() for child in self._children))
