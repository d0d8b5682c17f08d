"""The worker: take tasks from one queue, run them in a pool, record and announce their results.

One consumer loop takes ids (BRPOPLPUSH when idle, pipelined RPOPLPUSH for as many free slots as
there are), claims them with the claim script and hands them to the pool. Beside it run upkeep tasks:
the finisher (writes outcomes in batches, retrying until Redis takes them), the heartbeat (renews
the worker hash and its expiry) and the command listener (kill commands).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import redis
import redis.asyncio

from . import _codec
from ._app import AppRef
from ._config import Settings, resolve
from ._keys import Keys
from ._pool import Job, NotStarted, Pool, make_pool
from ._protocol import flatten
from ._registry import Registry
from ._runner import Outcome, failed
from ._schema import (
    HEARTBEAT_EXPIRY_INTERVALS,
    HEARTBEAT_INTERVAL,
    RESULT_TTL,
    SCHEMA_VERSION,
    SCRIPTS,
    Reason,
    State,
    TaskField,
    WorkerField,
)

log = logging.getLogger("doshit.worker")
T = TypeVar("T")

REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError)
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0, 10.0)
"""Seconds to wait before each retry while Redis is unreachable; the last one repeats."""
FINISH_BATCH = 500
"""At most this many outcomes are written in one pipeline."""
GIVE_BACK = "given back: the worker is shutting down"
"""The reason a claimed task that never started is stopped with at shutdown: it goes back to pending."""
MAX_MEMORY_LIMIT = 2**63 - 1
"""The largest RLIMIT_AS that setrlimit takes; a larger virtual-memory-limit is refused."""


class Backoff:
    """Waits between retries while Redis is unreachable, and says so in the log."""

    def __init__(self, doing: str) -> None:
        self.doing = doing
        self.attempt = 0

    async def wait(self, exc: BaseException) -> None:
        delay = BACKOFF[min(self.attempt, len(BACKOFF) - 1)]
        self.attempt += 1
        log.warning("Redis unreachable while %s (%s); retrying in %.1f s", self.doing, exc, delay)
        await asyncio.sleep(delay)

    def reset(self) -> None:
        if self.attempt:
            log.info("Redis reachable again; %s", self.doing)
            self.attempt = 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("doshit")
    except PackageNotFoundError:
        return "unknown"


def _ipaddress() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return ""


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the tasks and wait for them to end. A cancellation that lands while redis-py sets up a
    connection can be swallowed (the command listener's subscribe, right after start), so the tasks
    still running are cancelled again until they end."""
    running = [task for task in tasks if not task.done()]
    while running:
        for task in running:
            task.cancel()
        _, still = await asyncio.wait(running, timeout=0.1)
        running = list(still)
    await asyncio.gather(*tasks, return_exceptions=True)


class Worker:
    """Serve one queue.

    ``pool="process"`` (default) runs tasks in ``concurrency`` long-lived child processes;
    ``pool="inline"`` runs them in this process (async functions on the loop, plain ones in threads).
    With ``burst`` it exits once the queue is empty and its tasks are done.
    """

    def __init__(
        self,
        registry: Registry,
        url: str | None = None,
        *,
        queue: str | None = None,
        prefix: str | None = None,
        settings: Settings | None = None,
        concurrency: int | None = None,
        pool: str = "process",
        app: AppRef | None = None,
        burst: bool = False,
        result_ttl: int = RESULT_TTL,
        shutdown_timeout: float = 10.0,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        poll_timeout: int = 1,
    ) -> None:
        if pool not in ("process", "inline"):
            raise ValueError(f"pool must be 'process' or 'inline', got {pool!r}")
        if not len(registry):
            raise ValueError("the registry has no functions; register some with @registry.task")
        self.registry = registry
        self.settings = settings or resolve(url, prefix=prefix, queue=queue)
        self.queue = self.settings.queue
        self.keys: Keys = self.settings.keys
        self.id = str(uuid.uuid4())
        self.concurrency = concurrency or (os.cpu_count() or 1 if pool == "process" else 10)
        self.pool: Pool = make_pool(pool, registry, lambda: app or AppRef.find(registry), self.concurrency)
        self.burst = burst
        self.result_ttl = result_ttl
        self.shutdown_timeout = shutdown_timeout
        self.heartbeat_interval = heartbeat_interval
        self.poll_timeout = poll_timeout
        self._pending = self.keys.pending(self.queue)
        self._executing = self.keys.executing(self.queue)
        self._worker_key = self.keys.worker(self.id)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._free = self.concurrency + self.pool.ahead
        self._not_started: list[str] = []
        """Claimed tasks set aside because the worker stopped before they started, in claim order."""
        self._finishes: asyncio.Queue[tuple[str, Outcome, str]] = asyncio.Queue()
        """Outcomes to write: task id, outcome, when it finished."""
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.done: dict[str, int] = {"successful": 0, "failed": 0}

    # ----------------------------------------------------------------- lifecycle

    def run(self) -> None:
        """Run until SIGTERM/SIGINT (or until the queue is empty, with burst)."""
        asyncio.run(self.serve())

    async def serve(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._kill_now = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._stop)
        self.redis = self.settings.async_redis(client_name=f"doshit-worker:{self.id}")
        upkeep: list[asyncio.Task[None]] = []
        try:
            await self.pool.start()
            await self._retrying("register", self._register)
            upkeep = [
                asyncio.create_task(self._finisher(), name="finisher"),
                asyncio.create_task(self._heartbeat(), name="heartbeat"),
                asyncio.create_task(self._commands(), name="commands"),
            ]
            log.info(
                "doshit worker %s serving queue %r on %s (prefix %r), pool %s x%d, functions: %s",
                self.id, self.queue, self.settings.describe(), self.keys.prefix,
                self.pool.kind, self.concurrency, ", ".join(self.registry.names()),
            )  # fmt: skip
            await self._consume()
            await self._drain()
            await self._flush_finishes()
        finally:
            await _cancel(upkeep)
            await self._unregister()
            await self.pool.close()
            await self.redis.aclose()
            log.info(
                "doshit worker %s stopped: %d successful, %d failed",
                self.id,
                self.done["successful"],
                self.done["failed"],
            )

    def stop(self) -> None:
        """First call: stop taking tasks, let running ones finish (up to shutdown_timeout). Second: kill
        them now. Safe to call from any thread."""
        loop = self._loop
        if loop is None:
            self._stopping = True  # not serving yet: it will stop as soon as it starts
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            if not loop.is_closed():  # (a worker that already ended has nothing to stop)
                loop.call_soon_threadsafe(self._stop)
        else:
            self._stop()

    def _stop(self) -> None:
        if self._stopping:
            log.warning("second stop request: killing %d running task(s) now", len(self._running))
            self._kill_now.set()
            return
        self._stopping = True
        self._wake.set()
        self.pool.release_waiting(GIVE_BACK)
        if self._running:
            log.info(
                "shutting down: waiting up to %.0f s for %d running task(s); signal again to kill them now",
                self.shutdown_timeout, len(self._running),
            )  # fmt: skip
        else:
            log.info("shutting down")

    async def _give_back(self, task_ids: list[str]) -> None:
        """Put claimed tasks that never started back on pending, last claimed first, so that they keep
        their order at the taking end."""
        calls = [((self.keys.task(t), self._executing, self._pending), (t, self.id)) for t in reversed(task_ids)]
        try:
            await asyncio.wait_for(
                self._retrying("giving back tasks", lambda: self._scripts("unclaim", calls)), self.shutdown_timeout + 5
            )
            log.info("gave back %d task(s) that had not started to %s", len(task_ids), self._pending)
        except asyncio.TimeoutError:
            log.error(
                "could not give back %d task(s) (is Redis reachable?); they stay on %s", len(task_ids), self._executing
            )

    async def _drain(self) -> None:
        """Let running tasks finish (up to shutdown_timeout), kill the rest, give back what never started."""
        await asyncio.sleep(0)  # tasks claimed as the worker stopped reach _execute, which sets them aside
        if self._stopping:  # (a burst worker that ran out of work runs what it claimed)
            self.pool.release_waiting(GIVE_BACK)
        if self._running:
            await self._wait_or_kill()
        if self._not_started:
            await self._give_back(self._not_started)

    async def _wait_or_kill(self) -> None:
        timeout = None if self.burst and not self._stopping else self.shutdown_timeout
        waits = [asyncio.ensure_future(self._idle.wait()), asyncio.ensure_future(self._kill_now.wait())]
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        self.pool.release_waiting(GIVE_BACK)
        if self._running:
            log.warning("killing %d task(s) that did not finish in time", len(self._running))
            for task_id in list(self._running):
                self._kill(task_id, Reason.TERMINATED)
            await self._idle.wait()

    # ----------------------------------------------------------------- taking tasks

    async def _consume(self) -> None:
        backlog = 0  # pending tasks the last claim saw: take that many at once, else block for one
        backoff = Backoff("taking tasks")
        while not self._stopping:
            if self._free == 0:
                self._wake.clear()
                await self._wake.wait()
                await asyncio.sleep(0)  # let the tasks finishing in this same moment free their slots too
                continue
            try:
                ids = await self._fetch(min(self._free, backlog), block=not backlog and not self.burst)
            except REDIS_ERRORS as exc:
                await backoff.wait(exc)
                continue
            backoff.reset()
            if ids:
                backlog = await self._claim(ids)
            elif self.burst:
                log.info("burst: queue %r is empty", self.queue)
                break
            else:
                backlog = 0

    async def _fetch(self, count: int, *, block: bool) -> list[str]:
        if block:
            first = await self.redis.brpoplpush(self._pending, self._executing, timeout=self.poll_timeout)
            return [] if first is None else [str(first)]  # str already: the connection decodes
        pipe = self.redis.pipeline(transaction=False)
        for _ in range(max(count, 1)):
            pipe.rpoplpush(self._pending, self._executing)
        return [i for i in await pipe.execute() if i is not None]

    async def _claim(self, ids: list[str]) -> int:
        """Claim what we popped (those ids are on executing now: retry until the claims are through).
        Returns how many tasks are still pending."""
        now = _codec.now_timestamp()

        keys = (self._executing, self._pending)
        calls = [((self.keys.task(task_id), *keys), (task_id, self.id, self.queue, now)) for task_id in ids]
        replies = await self._retrying("claiming tasks", lambda: self._scripts("claim", calls))
        for task_id, reply in zip(ids, replies, strict=True):
            status = reply[0]
            if status == "run":
                self._start(task_id, reply[1], reply[2], reply[3])
            elif status == "invalid":
                state, function = reply[1], reply[2]
                reason = Reason.EMPTY_FUNCTION if not function else Reason.BAD_STATE.format(state=state)
                log.warning("task %s cannot run: %s", task_id, reason)
                self._finish(task_id, failed(reason))
            else:
                log.warning("dropped task id %s from %s: %s", task_id, self._executing, " ".join(reply[:-1]))
        return int(replies[-1][-1])

    def _start(self, task_id: str, function: str, args: str, memory_limit: str) -> None:
        limit: int | None = None
        if memory_limit:
            # isdigit() alone also takes digits int() refuses ('²') or reads as other numbers ('٣')
            if not (memory_limit.isascii() and memory_limit.isdigit()) or not 0 < int(memory_limit) <= MAX_MEMORY_LIMIT:
                self._finish(task_id, failed(Reason.BAD_MEMORY_LIMIT.format(value=memory_limit)))
                return
            limit = int(memory_limit)
        job = Job(task_id, function, args, limit)
        self._free -= 1
        self._idle.clear()
        self._running[task_id] = asyncio.create_task(self._execute(job), name=f"task {task_id}")

    async def _execute(self, job: Job) -> None:
        log.debug("task %s: %s started", job.task_id, job.function)
        outcome: Outcome | None = None
        try:
            if self._stopping:  # claimed as the worker stopped: never start it
                self._not_started.append(job.task_id)
            else:
                outcome = await self.pool.run(job)
        except NotStarted as stopped:
            if stopped.reason == GIVE_BACK:
                self._not_started.append(job.task_id)
            else:
                outcome = failed(stopped.reason, "killed before it started")
        except Exception as exc:  # a fault in the pool itself must still finish the task
            log.exception("task %s: the pool failed", job.task_id)
            outcome = failed(f"worker error: {type(exc).__name__}: {exc}")
        finally:
            del self._running[job.task_id]
            self._free += 1
            self._wake.set()
            if not self._running:
                self._idle.set()
        if outcome is None:  # set aside, to be given back
            return
        if outcome.ok:
            log.debug("task %s: %s successful", job.task_id, job.function)
        else:
            log.info("task %s: %s failed: %s", job.task_id, job.function, outcome.reason)
        self._finish(job.task_id, outcome)

    def _finish(self, task_id: str, outcome: Outcome) -> None:
        self._finishes.put_nowait((task_id, outcome, _codec.now_timestamp()))

    # ----------------------------------------------------------------- results

    async def _finisher(self) -> None:
        while True:
            batch = [await self._finishes.get()]
            if self._running:  # outcomes arriving in this same moment go in the same pipeline
                await asyncio.sleep(0)
            while len(batch) < FINISH_BATCH and not self._finishes.empty():
                batch.append(self._finishes.get_nowait())
            try:
                await self._retrying("writing results", functools.partial(self._write, batch))
            finally:
                for _ in batch:
                    self._finishes.task_done()

    async def _write(self, batch: Iterable[tuple[str, Outcome, str]]) -> None:
        items = list(batch)
        calls = []
        for task_id, outcome, finished in items:
            fields = {TaskField.STATE: State.FINISHED, TaskField.FINISHED_CREATED: finished, **outcome.fields()}
            args = (task_id, self.id, self.keys.results, self.result_ttl, *flatten(fields))
            calls.append(((self.keys.task(task_id), self._executing), args))
        for (task_id, outcome, _), written in zip(items, await self._scripts("finish", calls), strict=True):
            if written == 1:
                self.done["successful" if outcome.ok else "failed"] += 1
            elif written == 0:
                log.warning("task %s: its hash was gone when its result was written; result dropped", task_id)
            else:
                log.warning("task %s: no longer executing on this worker; its result was not written", task_id)

    async def _flush_finishes(self) -> None:
        try:
            await asyncio.wait_for(self._finishes.join(), self.shutdown_timeout + 5)
        except asyncio.TimeoutError:
            log.error(
                "could not write %d result(s) before exiting (is Redis reachable?); those tasks stay on %s",
                self._finishes.qsize(), self._executing,
            )  # fmt: skip

    # ----------------------------------------------------------------- upkeep

    def _worker_fields(self) -> dict[str, Any]:
        now = _codec.now_timestamp()
        fields: dict[str, Any] = {
            WorkerField.HOSTNAME: socket.gethostname(),
            WorkerField.IPADDRESS: _ipaddress(),
            WorkerField.PID: os.getpid(),
            WorkerField.REGISTERED: now,
            WorkerField.SCHEMA_VERSION: SCHEMA_VERSION,
            WorkerField.QUEUE: self.queue,
            WorkerField.FUNCTIONS: _codec.encode(self.registry.names()),
            WorkerField.POOL: self.pool.kind,
            WorkerField.CONCURRENCY: self.concurrency,
            WorkerField.HEARTBEAT: now,
            WorkerField.HEARTBEAT_INTERVAL: self.heartbeat_interval,
            WorkerField.VERSION: _version(),
        }
        return {name: value for name, value in fields.items() if value != ""}  # absent rather than empty

    @property
    def _expiry(self) -> int:
        return max(1, int(self.heartbeat_interval * HEARTBEAT_EXPIRY_INTERVALS))

    async def _register(self) -> None:
        pipe = self.redis.pipeline(transaction=True)
        fields: dict[Any, Any] = self._worker_fields()
        pipe.hset(self._worker_key, mapping=fields)
        pipe.expire(self._worker_key, self._expiry)
        await pipe.execute()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                pipe = self.redis.pipeline(transaction=True)
                pipe.hset(self._worker_key, WorkerField.HEARTBEAT, _codec.now_timestamp())
                pipe.expire(self._worker_key, self._expiry)
                created, _ = await pipe.execute()
                if created:  # the hash was gone (expired while Redis was away, or flushed): write it whole
                    await self._register()
            except REDIS_ERRORS as exc:
                log.warning("heartbeat failed: %s", exc)

    async def _unregister(self) -> None:
        try:
            await asyncio.wait_for(self.redis.delete(self._worker_key), 5)
        except (*REDIS_ERRORS, asyncio.TimeoutError) as exc:
            log.warning("could not delete worker hash %s: %s (it expires by itself)", self._worker_key, exc)

    async def _commands(self) -> None:
        backoff = Backoff("listening for commands")
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.keys.cmd)
                backoff.reset()
                async for message in pubsub.listen():
                    if message["type"] == "message":
                        self._command(message["data"])
            except REDIS_ERRORS as exc:
                await backoff.wait(exc)
            finally:
                await pubsub.aclose()

    def _command(self, command: str) -> None:
        task_id = self.keys.killed_task_id(command)
        if task_id is None:
            log.debug("ignoring command %r", command)
        elif task_id == "":
            log.info("kill all: killing %d running task(s)", len(self._running))
            for running in list(self._running):
                self._kill(running, Reason.PUBSUB_KILLED)
        elif self._kill(task_id, Reason.PUBSUB_KILLED):
            log.info("task %s: killing it on request", task_id)

    def _kill(self, task_id: str, reason: str) -> bool:
        """Kill a task this worker runs; False if it runs no such task."""
        if self.pool.kill(task_id, reason):
            return True
        if task_id in self._running:
            # claimed this very moment: its job reaches the pool in a step already scheduled; kill after that
            asyncio.get_running_loop().call_soon(self.pool.kill, task_id, reason)
            return True
        return False

    async def _scripts(self, name: str, calls: Sequence[tuple[Sequence[str], Sequence[Any]]]) -> list[Any]:
        """Run one script many times in one pipeline. (redis-py's own script pipelining costs an
        extra SCRIPT EXISTS round trip per pipeline; here a script is loaded only on NOSCRIPT.)"""
        sha = SCRIPTS[name].sha
        replies: list[Any]
        if len(calls) == 1:  # a pipeline of one costs more than the command itself
            keys, argv = calls[0]
            try:
                replies = [await self.redis.execute_command("EVALSHA", sha, len(keys), *keys, *argv)]
            except redis.exceptions.NoScriptError as exc:
                replies = [exc]
        else:
            pipe = self.redis.pipeline(transaction=False)
            for keys, argv in calls:
                pipe.execute_command("EVALSHA", sha, len(keys), *keys, *argv)
            replies = list(await pipe.execute(raise_on_error=False))
        redo = [i for i, reply in enumerate(replies) if isinstance(reply, redis.exceptions.NoScriptError)]
        if redo:
            await self.redis.script_load(SCRIPTS[name].source)
            for i, reply in zip(redo, await self._scripts(name, [calls[i] for i in redo]), strict=True):
                replies[i] = reply
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    # ----------------------------------------------------------------- Redis trouble

    async def _retrying(self, doing: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Run ``operation`` until Redis takes it: for work that must not be lost."""
        backoff = Backoff(doing)
        while True:
            try:
                result = await operation()
                backoff.reset()
                return result
            except REDIS_ERRORS as exc:
                await backoff.wait(exc)
