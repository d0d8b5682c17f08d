"""The worker: take tasks from its queues, run them in a pool, record and announce their results.

``serve`` wires the parts together and reads as the worker's life: start the pool, register, start
the upkeep (finisher, heartbeat, commands), take tasks until told to stop, then shut down in order.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio

from .._core import codec
from .._core.config import Settings, resolve
from .._core.keys import Keys, KillAll, KillTask, Scheduled, check_queue
from .._core.limits import Limits
from .._core.schema import (
    HEARTBEAT_INTERVAL,
    MAX_ARGS_BYTES,
    MAX_DEPTH,
    MAX_RESULT_BYTES,
    RESULT_TTL,
    RESULT_TTL_MAX_SECONDS,
    Reason,
    TaskField,
)
from .._core.stats import Stats
from .._core.worker_rules import WorkerInfo, WorkerProtocol
from .._errors import ConfigError
from .._logs import LOG_FORMATS
from .._redis import config_problem, connect_async
from .._version import __version__
from .app import AppRef
from .consumer import Consumer
from .events import HOOK_TIMEOUT, Event, FailureHook, Hooks, check_failure_hook
from .finisher import Finisher
from .pool import ChildOptions, InlinePool, Pool
from .process_pool import ProcessPool
from .recovery import Audit, Promoter, Recovery
from .registry import Registry
from .upkeep import Commands, Heartbeat, Registration, Stopped, every, retrying, this_host

log = logging.getLogger("doshit.worker")

POOLS = ("process", "inline")
"""The kinds of pool; the first is the default."""
RECOVERY_INTERVAL = 5.0
"""Default seconds between two looks for the tasks of dead workers (by one worker of the queue)."""
RECOVERY_GRACE = 10.0
"""Default seconds a task must stay without a live owner, after it was first seen so, before it is
given back: longer than a live worker needs to renew a hash that expired while Redis was away."""
RECOVERY_RETRIES = 2
"""Default runs a task gets again after its worker died, when it says nothing (its retries field)."""
STOP_GRACE = 2.0
"""Seconds beyond the poll timeout the consumer may take to come back after a stop request."""
SHUTDOWN_TIMEOUT = 10.0
"""Default seconds running tasks may take to finish after a stop request before they are killed."""


def default_concurrency(pool: str) -> int:
    """Tasks at once when not given: one per CPU in the process pool, 10 inline."""
    return os.cpu_count() or 1 if pool == "process" else 10


def make_pool(kind: str, registry: Registry, app: AppRef | None, size: int, children: ChildOptions) -> Pool:
    if kind == "inline":
        return InlinePool(registry, size, children.limits)
    ref = app or AppRef.find(registry)
    if ref is None:
        raise ValueError("the process pool needs to know where to import the registry from: pass app=AppRef(...)")
    return ProcessPool(ref, size, children)


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


async def _first(*events: asyncio.Event, timeout: float | None = None) -> None:
    """Until one of the events is set, or the timeout passes."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for wait in waits:
        wait.cancel()


class Worker:
    """Serve one queue, or several (``queues``, earlier ones first).

    ``pool="process"`` (default) runs tasks in ``concurrency`` long-lived child processes;
    ``pool="inline"`` runs them in this process (async functions on the loop, plain ones in threads).
    With ``burst`` it exits once the queues are empty and its tasks are done. ``on_failure``: a
    function called with the Event, or a command (argv list, no shell) run, when a task fails for
    good (a function's own ``on_failure`` wins); hooks get ``hook_timeout`` seconds each.
    """

    def __init__(
        self,
        registry: Registry,
        url: str | None = None,
        *,
        queue: str | None = None,
        queues: Sequence[str] | None = None,
        prefix: str | None = None,
        settings: Settings | None = None,
        concurrency: int | None = None,
        pool: str = POOLS[0],
        app: AppRef | None = None,
        burst: bool = False,
        result_ttl: int = RESULT_TTL,
        shutdown_timeout: float = SHUTDOWN_TIMEOUT,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        poll_timeout: int = 1,
        max_args_bytes: int = MAX_ARGS_BYTES,
        max_result_bytes: int = MAX_RESULT_BYTES,
        max_depth: int = MAX_DEPTH,
        max_tasks_per_child: int | None = None,
        max_memory_per_child: int | None = None,
        log_format: str = LOG_FORMATS[0],
        task_timeout: float | None = None,
        recovery_interval: float = RECOVERY_INTERVAL,
        recovery_grace: float = RECOVERY_GRACE,
        recovery_retries: int = RECOVERY_RETRIES,
        on_failure: FailureHook | None = None,
        hook_timeout: float = HOOK_TIMEOUT,
    ) -> None:
        if pool not in POOLS:
            raise ValueError(f"pool must be 'process' or 'inline', got {pool!r}")
        if not len(registry):
            raise ValueError("the registry has no functions; register some with @registry.task")
        if (
            isinstance(result_ttl, bool)
            or not isinstance(result_ttl, int)
            or not 0 <= result_ttl <= RESULT_TTL_MAX_SECONDS
        ):
            raise ValueError(f"result_ttl must be whole seconds from 0 to {RESULT_TTL_MAX_SECONDS}, got {result_ttl!r}")
        if queues is not None and (isinstance(queues, str) or not queues):
            raise ValueError(f"queues must be a non-empty list of queue names, got {queues!r}")
        if queues is not None and queue is not None:
            raise ValueError("give queue or queues, not both")
        self.registry = registry
        self.settings = settings or resolve(url, prefix=prefix, queue=queue if queues is None else queues[0])
        self.queues = [check_queue(q) for q in dict.fromkeys(queues or [self.settings.queue])]
        """The queues it serves, in the order it takes from them."""
        self.queue = self.queues[0]
        self.keys: Keys = self.settings.keys
        read_timeout = self.settings.socket_timeout
        if read_timeout is not None and read_timeout <= poll_timeout:
            raise ConfigError(
                f"the Redis URL's socket_timeout ({read_timeout:g} s) must be longer than the worker's blocking "
                f"take ({poll_timeout} s): {self.settings.describe()}"
            )
        if not hook_timeout > 0:
            raise ValueError(f"hook_timeout must be a positive number of seconds, got {hook_timeout!r}")
        self.on_failure = check_failure_hook(on_failure)
        self.hook_timeout = hook_timeout
        self.id = str(uuid.uuid4())
        self.concurrency = concurrency or default_concurrency(pool)
        limits = Limits(max_args_bytes, max_result_bytes, max_depth)
        children = ChildOptions(limits, max_tasks_per_child, max_memory_per_child, log_format)
        self.pool = make_pool(pool, registry, app, self.concurrency, children)
        self.burst = burst
        self.result_ttl = result_ttl
        self.shutdown_timeout = shutdown_timeout
        self.heartbeat_interval = heartbeat_interval
        self.poll_timeout = poll_timeout
        self.task_timeout = task_timeout
        self.recovery_interval = recovery_interval
        self.recovery_grace = recovery_grace
        self.recovery_retries = recovery_retries
        self.protocols = [WorkerProtocol(self.keys, q, self.id, limits) for q in self.queues]
        self.protocol = self.protocols[0]
        self.pool.worker_id = self.id
        self._stop_requests = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self.done: dict[str, int] = {}
        """Tasks finished by this worker, by result (successful, failed), once it has served."""
        self.unwritten: list[str] = []
        """Ids of the tasks whose result could not be written before the worker exited (Redis was
        unavailable for longer than the shutdown timeout); they stay executing, to be recovered."""

    def run(self) -> None:
        """Run until SIGTERM/SIGINT (or until the queue is empty, with burst)."""
        asyncio.run(self.serve())

    async def serve(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._stopped, self._kill_now = asyncio.Event(), asyncio.Event()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self._stop)
        conn = connect_async(self.settings, client_name=f"doshit-worker:{self.id}")
        host, address, pid = this_host()
        info = WorkerInfo(
            self.id, host, address, pid, self.queue, self.registry.names(), self.pool.kind, self.concurrency,
            self.heartbeat_interval, __version__, self.queues,
        )  # fmt: skip
        registration = Registration(conn, self.keys, info)
        by_queue = {protocol.queue: protocol for protocol in self.protocols}
        self._finisher = finisher = Finisher(conn, by_queue, self.result_ttl, lambda: bool(consumer.running))
        self.done = finisher.done
        self.stats = stats = Stats()
        heartbeat: Heartbeat | None = None  # (made once registered: on a cluster it connects at once)
        self.hooks = hooks = Hooks(
            self.registry.hooks(), self._failure_hook, self.hook_timeout, functools.partial(self._meta, conn)
        )
        self._consumer = consumer = Consumer(
            conn, self.protocols, self.pool, finisher, self.registry,
            burst=self.burst, poll_timeout=self.poll_timeout, task_timeout=self.task_timeout, hooks=hooks,
            stats=stats,
        )  # fmt: skip
        commands = Commands(conn, self.keys, self._command, lambda: list(consumer.running))
        self._promoters = promoters = {protocol.queue: Promoter(conn, protocol) for protocol in self.protocols}
        self.recoveries = [
            Recovery(
                conn, protocol, interval=self.recovery_interval, grace=self.recovery_grace,
                default_retries=self.recovery_retries, result_ttl=self.result_ttl, hooks=hooks, stats=stats,
            )
            for protocol in self.protocols
        ]  # fmt: skip
        self.recovery = self.recoveries[0]
        self.audit = audit = Audit(
            conn,
            self.protocols,
            lambda: [*consumer.running, *finisher.unwritten, *(e.job.task_id for e in consumer.given_back)],
        )
        if self._stop_requests:  # stopped before it served
            self._stopped.set()
            consumer.stop()
        upkeep: list[asyncio.Task[None]] = []
        registered = False
        try:
            await self.pool.start()
            registered = await self._register(registration)
            if not registered:
                return
            heartbeat = Heartbeat(self.settings, info, finisher.done, stats)
            heartbeat.start()
            upkeep = [
                asyncio.create_task(finisher.run(), name="finisher"),
                asyncio.create_task(hooks.run(), name="hooks"),
                asyncio.create_task(every(0, "listening for commands", commands.listen), name="commands"),
                *(asyncio.create_task(p.run(), name=f"promoter {q}") for q, p in promoters.items()),
                *(
                    asyncio.create_task(every(self.recovery_interval, "recovering tasks", r.once), name="recovery")
                    for r in self.recoveries
                ),
                asyncio.create_task(every(self.recovery_interval, "auditing its tasks", audit.once), name="audit"),
            ]
            log.info(
                "doshit worker %s serving %s on %s (prefix %r), pool %s x%d, functions: %s",
                self.id, ", ".join(f"queue {q!r}" for q in self.queues), self.settings.describe(), self.keys.prefix,
                self.pool.kind, self.concurrency, ", ".join(self.registry.names()),
            )  # fmt: skip
            self._worker_event("worker_started")
            await self._consume()
            await self._shut_down()
            self._worker_event("worker_stopped")
            await hooks.drain(self.hook_timeout)
        finally:
            if heartbeat is not None:
                heartbeat.stop()
            await _cancel(upkeep)
            if registered:
                await registration.unregister()
            await self.pool.close()
            await conn.aclose()
            log.info("doshit worker %s stopped: %s", self.id, ", ".join(f"{n} {r}" for r, n in self.done.items()))

    async def _register(self, registration: Registration) -> bool:
        """Write the worker hash, waiting while Redis is unavailable; False when told to stop first.
        Access refused or a database the server does not have are ConfigErrors: no retry cures them."""
        try:
            await retrying("registering the worker", registration.register, self._stopped)
        except Stopped:
            log.info("stopped before the worker could register")
            return False
        except redis.RedisError as exc:
            problem = config_problem(exc)
            if problem is None:
                raise
            raise ConfigError(f"{problem} ({self.settings.describe()})") from None
        return True

    async def _consume(self) -> None:
        """Take tasks until told to stop (or, with burst, until the queue is empty). A consumer that
        does not come back from Redis within a poll timeout after the stop request (Redis hangs) is
        cancelled: ids it popped but could not claim stay on executing, where recovery finds them."""
        consuming = asyncio.create_task(self._consumer.run(), name="consumer")
        stopping = asyncio.ensure_future(self._stopped.wait())
        await asyncio.wait((consuming, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not consuming.done():
            await asyncio.wait((consuming,), timeout=self.poll_timeout + STOP_GRACE)
        if not consuming.done():
            log.warning("Redis does not answer: stopped taking tasks without waiting for it")
            await _cancel([consuming])
            return
        try:
            consuming.result()  # the consumer's own error, if any
        except redis.RedisError as exc:  # access refused while taking tasks (an ACL, scripts not loaded)
            problem = config_problem(exc)
            if problem is None:
                raise
            raise ConfigError(f"{problem} ({self.settings.describe()})") from None

    async def _shut_down(self) -> None:
        """The consumer takes no more tasks: finish those in flight, then give back the ones that never
        started and write every result, each for up to the shutdown timeout."""
        consumer = self._consumer
        if not self._stop_requests:  # a burst worker found the queue empty: it runs what it claimed
            await _first(consumer.idle, self._stopped)
        consumer.stop()
        if consumer.running:
            await _first(consumer.idle, self._kill_now, timeout=self.shutdown_timeout)
        if consumer.running:
            log.warning("killing %d task(s) that did not finish in time", consumer.kill_all(Reason.TERMINATED))
            await consumer.idle.wait()
        deadline = time.monotonic() + self.shutdown_timeout
        await consumer.give_back(self.shutdown_timeout)
        self.unwritten = await self._finisher.flush(max(0.0, deadline - time.monotonic()))
        if self.unwritten:
            log.error(
                "could not write the result(s) of %d task(s) before exiting (is Redis reachable?); they stay "
                "executing on %s, to be recovered: %s",
                len(self.unwritten), self.protocol.executing, ", ".join(self.unwritten),
            )  # fmt: skip

    def _failure_hook(self, function: str | None) -> FailureHook | None:
        """The failure hook for a task of this function: its own, else the worker's."""
        own = self.registry.policy(function).on_failure if function else None
        return own if own is not None else self.on_failure

    async def _meta(self, conn: redis.asyncio.Redis, task_id: str) -> dict[str, Any]:
        """A task's meta field (producer metadata), for its events: empty when absent or not an object."""
        text = await conn.hget(self.keys.task(task_id), TaskField.META)
        if not text:
            return {}
        try:
            value = codec.decode(str(text))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def _worker_event(self, kind: str) -> None:
        if self.hooks.wants(kind):
            self.hooks.emit(Event(kind, self.id, self.queue, meta={"queues": self.queues, "done": dict(self.done)}))

    def _command(self, command: KillTask | KillAll | Scheduled) -> None:
        if isinstance(command, Scheduled):
            promoter = self._promoters.get(command.queue)
            if promoter is not None:
                promoter.wake.set()
        elif isinstance(command, KillAll):
            log.info("kill all: killing %d running task(s)", self._consumer.kill_all(Reason.PUBSUB_KILLED))
        elif self._consumer.kill(command.task_id, Reason.PUBSUB_KILLED):
            log.info("task %s: killing it on request", command.task_id)

    def stop(self) -> None:
        """First call: stop taking tasks, let running ones finish (up to shutdown_timeout). Second: kill
        them now. Safe to call from any thread."""
        loop = self._loop
        if loop is None:
            self._stop_requests += 1  # not serving yet: it will stop as soon as it starts
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
        self._stop_requests += 1
        running = len(self._consumer.running)
        if self._stop_requests > 1:
            log.warning("second stop request: killing %d running task(s) now", running)
            self._kill_now.set()
            return
        self._stopped.set()
        self._consumer.stop()
        if running:
            log.info(
                "shutting down: waiting up to %.0f s for %d running task(s); signal again to kill them now",
                self.shutdown_timeout, running,
            )  # fmt: skip
        else:
            log.info("shutting down")
