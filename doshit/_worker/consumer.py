"""Taking tasks: pop ids from pending onto executing, claim them, hand them to the pool, and keep the
table of the tasks in flight (to kill them, wait for them, or give back those that never started).

A worker may serve several queues, in order: each take empties the earlier queues first (strict
priority). While idle it blocks on every queue at once, one connection each.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis
import redis.asyncio

from .._core import codec
from .._core.keys import valid_task_id
from .._core.outcome import Outcome, failed
from .._core.schema import RESULT_TTL, Reason, Result, State, TaskField
from .._core.stats import UNKNOWN_FUNCTION, Stats
from .._core.text import shown
from .._core.worker_rules import RETRIED, Dropped, Job, Refused, WorkerProtocol, no_queue_tag_fields
from .._redis import run_scripts, run_scripts_apart, unavailable
from .events import Event, Hooks
from .pool import GIVE_BACK, GiveBack, Kill, NotStarted, Pool, Stop
from .registry import Registry
from .upkeep import Retry, Stopped, pause, retrying

log = logging.getLogger("doshit.worker")

SHORT_TASK = 0.005
"""Seconds: while the tasks' typical run is shorter than this, a pool that claims ahead claims
FURTHER_AHEAD times as far ahead (a task waits a few milliseconds for its slot, and each round trip
to Redis serves more tasks); longer tasks are claimed one ahead per slot, so that an idle worker
beside this one is not left without work while tasks wait here."""
FURTHER_AHEAD = 3
TYPICAL_WEIGHT = 0.1
"""How much each finished run moves the typical run time (an exponential moving average)."""


async def drop_ids(conn: redis.asyncio.Redis, protocol: WorkerProtocol, task_ids: Sequence[str]) -> None:
    """Take ids off the queue's executing list that no task of the queue can have: ids that break the
    schema's id rule, and on a cluster ids without the queue's hash tag, whose task key is in a slot
    the queue's scripts cannot reach. A pending task whose id has no queue tag at all, which no worker
    on the cluster can ever take, is finished failed with the reason (no_queue_tag)."""
    pipe = conn.pipeline(transaction=False)
    for task_id in task_ids:
        if valid_task_id(task_id):
            log.warning("dropped task id %s from %s: it does not start with the queue's hash tag", shown(task_id),
                        protocol.executing)  # fmt: skip
        else:
            log.warning("dropped invalid task id %s from %s", shown(task_id), protocol.executing)
        pipe.lrem(protocol.executing, 1, task_id)
    await pipe.execute()
    for task_id in filter(protocol.untaggable, task_ids):
        await _fail_untagged(conn, protocol, task_id)


async def _fail_untagged(conn: redis.asyncio.Redis, protocol: WorkerProtocol, task_id: str) -> None:
    key = protocol.keys.task(task_id)
    if await conn.hget(key, TaskField.STATE) != State.PENDING:  # (a single-key command: any slot will do)
        return
    fields: dict[Any, Any] = no_queue_tag_fields(codec.now_timestamp())
    pipe = conn.pipeline(transaction=True)  # (one key: one slot)
    pipe.hset(key, mapping=fields)
    pipe.expire(key, RESULT_TTL)
    await pipe.execute()
    await conn.publish(protocol.keys.results, key)


@dataclass
class InFlight:
    """A claimed task: its job, the order it was claimed in, the future that stops it before it starts,
    and the timer of its time limit once it runs."""

    job: Job
    order: int
    stop: asyncio.Future[Stop]
    timer: asyncio.TimerHandle | None = None
    over_time: bool = False
    started_at: float | None = None
    progress: str | None = None
    """The last progress the task reported (JSON text); written with its outcome too."""


class Outcomes(Protocol):
    """Where the consumer sends what became of each task (the Finisher)."""

    def finish(self, task_id: str, attempt: int, outcome: Outcome, queue: str, progress: str | None = None) -> None: ...

    def retry(
        self, task_id: str, attempt: int, outcome: Outcome, queue: str, delay: float, progress: str | None = None
    ) -> None: ...


class Consumer:
    """Takes tasks from its queues as long as it has free slots, and runs each in the pool.

    When idle it blocks on BRPOPLPUSH for one id (per queue); when the last claim saw a backlog it
    takes as many at once as it has free slots, with pipelined RPOPLPUSH, earlier queues first. Every
    outcome goes to ``finish``. A function registered with ``concurrency`` has at most that many runs
    at once; its other claimed tasks wait for one to end (in the worker's slots).
    """

    def __init__(
        self,
        conn: redis.asyncio.Redis,
        protocols: Sequence[WorkerProtocol],
        pool: Pool,
        outcomes: Outcomes,
        registry: Registry,
        *,
        burst: bool,
        poll_timeout: int,
        task_timeout: float | None = None,
        hooks: Hooks | None = None,
        stats: Stats | None = None,
    ) -> None:
        self.conn = conn
        self.stats = stats
        self.protocols = list(protocols)
        self.protocol = self.protocols[0]
        self.hooks = hooks
        self.pool = pool
        self.outcomes = outcomes
        self.registry = registry
        self.task_timeout = task_timeout
        self.burst = burst
        self.poll_timeout = poll_timeout
        self.running: dict[str, InFlight] = {}
        self.given_back: list[InFlight] = []
        """Claimed tasks stopped before they started because the worker is shutting down."""
        self.idle = asyncio.Event()
        self.idle.set()
        self.stopped = asyncio.Event()
        self._free = pool.size + pool.ahead
        self._typical = SHORT_TASK
        """The typical run time of this worker's tasks, in seconds (until one ran: not short)."""
        self._further = pool.ahead * (FURTHER_AHEAD - 1)
        """Slots beyond size + ahead, used only while tasks are short."""
        self._wake = asyncio.Event()
        self._order = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references
        self._by_queue = {protocol.queue: protocol for protocol in self.protocols}
        self._waiters: dict[str, asyncio.Task[Any]] = {}
        """Idle, several queues: the blocking take on each queue, kept until it answers."""
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._progress: dict[str, InFlight] = {}
        """Tasks whose reported progress is not written yet."""
        self._progress_writer: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self.stopped.is_set()

    def stop(self) -> None:
        """Take no more tasks; those claimed and not started are given back."""
        self.stopped.set()
        self._wake.set()
        for entry in self.running.values():
            if not entry.stop.done():
                entry.stop.set_result(GIVE_BACK)

    async def run(self) -> None:
        """Take tasks until stopped (or, with burst, until the queue is empty)."""
        backlog = 0  # pending tasks the last claim saw: take that many at once, else block for one
        retry = Retry("taking tasks")
        while not self.stopping:
            free = self._free + (self._further if self._typical < SHORT_TASK else 0)
            if free <= 0:  # (idle takes on several queues may answer at once: then below 0)
                self._wake.clear()
                await self._wake.wait()
                await asyncio.sleep(0)  # let the tasks finishing in this same moment free their slots too
                continue
            try:
                taken = await self._fetch(min(free, backlog), block=not backlog and not self.burst)
            except (redis.RedisError, OSError) as exc:
                if not unavailable(exc):
                    raise
                with contextlib.suppress(Stopped):
                    await pause(retry.failed(exc), self.stopped)
                continue
            retry.succeeded()
            backlog = 0
            for protocol, ids in taken:
                backlog = max(backlog, await self._claim(protocol, ids))
            if not taken and self.burst:
                log.info("burst: %s empty", ", ".join(f"queue {p.queue!r}" for p in self.protocols))
                return
        await self._end_waits()

    async def _fetch(self, count: int, *, block: bool) -> list[tuple[WorkerProtocol, list[str]]]:
        """Ids popped onto executing, by queue: blocking for one when idle, else up to ``count``,
        earlier queues first."""
        if block and len(self.protocols) == 1:
            protocol = self.protocol
            first = await self.conn.brpoplpush(protocol.pending, protocol.executing, timeout=self.poll_timeout)
            return [] if first is None else [(protocol, [str(first)])]  # str already: the connection decodes
        if block:  # the earlier queues first, even when waiting: a blocking take answers for one queue
            return await self._fetch(1, block=False) or await self._wait_any()
        taken = []
        count = max(count, 1)
        for protocol in self.protocols:
            pipe = self.conn.pipeline(transaction=False)
            for _ in range(count):
                if protocol.keys.cluster:  # the same move; a cluster pipeline refuses RPOPLPUSH
                    pipe.lmove(protocol.pending, protocol.executing, "RIGHT", "LEFT")
                else:
                    pipe.rpoplpush(protocol.pending, protocol.executing)
            ids = [i for i in await pipe.execute() if i is not None]
            if ids:
                taken.append((protocol, ids))
                count -= len(ids)
            if count <= 0:
                break
        return taken

    async def _wait_any(self) -> list[tuple[WorkerProtocol, list[str]]]:
        """Block on every queue at once; what each answered, in queue order. A take that has not
        answered stays in flight for the next call (cancelling it could lose an id it popped)."""
        for protocol in self.protocols:
            if protocol.queue not in self._waiters:
                self._waiters[protocol.queue] = asyncio.ensure_future(
                    self.conn.brpoplpush(protocol.pending, protocol.executing, timeout=self.poll_timeout)
                )
        await asyncio.wait(self._waiters.values(), return_when=asyncio.FIRST_COMPLETED)
        return self._answers()

    def _answers(self) -> list[tuple[WorkerProtocol, list[str]]]:
        taken, errors = [], []
        for protocol in self.protocols:
            waiter = self._waiters.get(protocol.queue)
            if waiter is None or not waiter.done():
                continue
            del self._waiters[protocol.queue]
            try:
                value = waiter.result()
            except (redis.RedisError, OSError) as exc:
                errors.append(exc)
                continue
            if value is not None:
                taken.append((protocol, [str(value)]))
        if errors and not taken:
            raise errors[0]
        return taken

    async def _end_waits(self) -> None:
        """The blocking takes still in flight answer within the poll timeout: claim what they popped
        (stopping, the claim gives it straight back)."""
        if not self._waiters:
            return
        await asyncio.wait(self._waiters.values())
        with contextlib.suppress(redis.RedisError, OSError):
            for protocol, ids in self._answers():
                await self._claim(protocol, ids)

    async def _claim(self, protocol: WorkerProtocol, ids: list[str]) -> int:
        """Claim what we popped (those ids are on executing now: retry until the claims are through).
        Returns how many tasks are still pending on that queue."""
        invalid = [task_id for task_id in ids if not protocol.runs_id(task_id)]
        if invalid:
            await self._drop(protocol, invalid)
            ids = [task_id for task_id in ids if task_id not in invalid]
        if not ids:
            return 0
        now = codec.now_timestamp()
        calls = [protocol.claim(task_id, now) for task_id in ids]
        replies = await retrying("claiming tasks", lambda: run_scripts(self.conn, calls))
        for task_id, reply in zip(ids, replies, strict=True):
            claimed = protocol.read_claim(task_id, reply)
            if isinstance(claimed, Job):
                self._emit("task_fetched", claimed)
                self._start(claimed)
            elif isinstance(claimed, Refused):
                log.warning("task %s cannot run: %s", task_id, shown(claimed.outcome.reason, 300))
                self.outcomes.finish(task_id, claimed.attempt, claimed.outcome, protocol.queue)
                job = Job(task_id, "", "", None, claimed.attempt, queue=protocol.queue)
                self._count(job, Result.FAILED, None)
                self._emit("task_failed", job, reason=claimed.outcome.reason, exception=claimed.outcome.exception)
            elif isinstance(claimed, Dropped):
                log.warning("dropped task id %s from %s: %s", task_id, protocol.executing, claimed.why)
        return int(replies[-1]["backlog"])

    async def _drop(self, protocol: WorkerProtocol, task_ids: list[str]) -> None:
        """Take ids off executing that no task of the queue can have (WorkerProtocol.runs_id)."""
        await retrying("dropping task ids", functools.partial(drop_ids, self.conn, protocol, task_ids))

    def _emit(self, kind: str, job: Job, **details: Any) -> None:
        if self.hooks is not None and self.hooks.wants(kind, job.function):
            self.hooks.emit(
                Event(kind, self.protocol.worker_id, job.queue, job.task_id, job.function or None, job.attempt,
                      **details)
            )  # fmt: skip

    def _start(self, job: Job) -> None:
        stop: asyncio.Future[Stop] = asyncio.get_running_loop().create_future()
        if self.stopping:  # claimed as the worker stopped: it never starts
            stop.set_result(GIVE_BACK)
        entry = InFlight(job, next(self._order), stop)
        self.running[job.task_id] = entry
        self._free -= 1
        self.idle.clear()
        task = asyncio.create_task(self._execute(entry), name=f"task {job.task_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, entry: InFlight) -> None:
        job = entry.job
        log.debug("task %s: %s started", job.task_id, shown(job.function))
        slot: asyncio.Semaphore | None = None
        try:
            slot = await self._slot(entry)
            outcome = await self.pool.run(
                job, entry.stop, lambda: self._started(entry), functools.partial(self._report, entry)
            )
        except NotStarted as stopped:
            if isinstance(stopped.stop, GiveBack):
                self.given_back.append(entry)
                return
            outcome = failed(stopped.stop.reason, "killed before it started")
        except Exception as exc:  # a fault in the pool itself must still finish the task
            log.exception("task %s: the pool failed", job.task_id)
            outcome = failed(f"worker error: {type(exc).__name__}: {exc}")
        finally:
            if slot is not None:
                slot.release()
            if entry.timer is not None:
                entry.timer.cancel()
            del self.running[job.task_id]
            self._free += 1
            self._wake.set()
            if not self.running:
                self.idle.set()
        self._done(entry, outcome)

    async def _slot(self, entry: InFlight) -> asyncio.Semaphore | None:
        """Wait until the function is below its concurrency limit (if it has one); NotStarted when
        the task is stopped first."""
        limit = self.registry.policy(entry.job.function).concurrency
        if limit is None:
            return None
        slot = self._limits.setdefault(entry.job.function, asyncio.Semaphore(limit))
        if entry.stop.done():
            raise NotStarted(entry.stop.result())
        acquire = asyncio.ensure_future(slot.acquire())
        await asyncio.wait((acquire, entry.stop), return_when=asyncio.FIRST_COMPLETED)
        if not acquire.done():
            acquire.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acquire
        if acquire.done() and not acquire.cancelled():
            if not entry.stop.done():
                return slot
            slot.release()
        raise NotStarted(entry.stop.result())

    def _report(self, entry: InFlight, value: str) -> None:
        """A running task reported progress: written soon (at most one write per task in flight)."""
        if entry.job.task_id not in self.running:
            return
        entry.progress = value
        self._progress[entry.job.task_id] = entry
        if self._progress_writer is None or self._progress_writer.done():
            self._progress_writer = asyncio.create_task(self._write_progress(), name="progress")

    async def _write_progress(self) -> None:
        """Write the progress reported, until none is left. Best effort: a write Redis does not take
        is dropped (the last value is written with the task's outcome anyway)."""
        while self._progress:
            batch, self._progress = list(self._progress.values()), {}
            calls = [
                self._by_queue[e.job.queue].progress(e.job.task_id, e.job.attempt, e.progress or "null") for e in batch
            ]
            try:
                await run_scripts_apart(self.conn, calls)
            except (redis.RedisError, OSError) as exc:
                log.debug("could not write the progress of %d task(s): %s", len(calls), exc)

    def _started(self, entry: InFlight) -> None:
        """The task runs now: its time limit starts."""
        entry.started_at = time.monotonic()
        self._emit("task_started", entry.job)
        limit = entry.job.timeout or self.registry.policy(entry.job.function).timeout or self.task_timeout
        if limit is not None:
            entry.timer = asyncio.get_running_loop().call_later(limit, self._over_time, entry, limit)

    def _over_time(self, entry: InFlight, limit: float) -> None:
        entry.over_time = True
        log.info("task %s: over its time limit of %g s; killing it", entry.job.task_id, limit)
        self.kill(entry.job.task_id, Reason.TIME_LIMIT.format(seconds=f"{limit:g}"))

    def _done(self, entry: InFlight, outcome: Outcome) -> None:
        """Finish the task with its outcome, or schedule it again when it failed in a way worth a retry
        and has retries left."""
        job = entry.job
        self._progress.pop(job.task_id, None)
        duration = None if entry.started_at is None else time.monotonic() - entry.started_at
        if duration is not None:
            self._typical += (duration - self._typical) * TYPICAL_WEIGHT
        if outcome.ok:
            log.debug("task %s: %s successful", job.task_id, shown(job.function))
            self.outcomes.finish(job.task_id, job.attempt, outcome, job.queue, entry.progress)
            self._count(job, Result.SUCCESSFUL, duration)
            self._emit("task_succeeded", job, duration=duration)
            return
        policy = self.registry.policy(job.function).retry
        failure = dict(duration=duration, reason=outcome.reason, exception=outcome.exception)
        if (outcome.retryable or entry.over_time) and job.attempt <= policy.retries_for(job):
            delay = policy.delay(job.attempt, random.random())
            log.info("task %s: %s failed (attempt %d): %s; retrying in %.1f s", job.task_id, shown(job.function),
                     job.attempt, shown(outcome.reason, 300), delay)  # fmt: skip
            self.outcomes.retry(job.task_id, job.attempt, outcome, job.queue, delay, entry.progress)
            self._count(job, RETRIED, duration)
            self._emit("task_retried", job, delay=delay, **failure)
            return
        log.info("task %s: %s failed: %s", job.task_id, shown(job.function), shown(outcome.reason, 300))
        self.outcomes.finish(job.task_id, job.attempt, outcome, job.queue, entry.progress)
        self._count(job, Result.FAILED, duration)
        self._emit("task_failed", job, **failure)

    def _count(self, job: Job, outcome: str, duration: float | None) -> None:
        if self.stats is not None:
            function = job.function if self.registry.get(job.function) is not None else UNKNOWN_FUNCTION
            self.stats.record(job.queue, function, outcome, duration)

    def kill(self, task_id: str, reason: str) -> bool:
        """Kill a task this worker has claimed: before it starts, or while it runs. False if it has none."""
        entry = self.running.get(task_id)
        if entry is None:
            return False
        if not entry.stop.done():
            entry.stop.set_result(Kill(reason))
        self.pool.kill(task_id, reason)
        return True

    def kill_all(self, reason: str) -> int:
        for task_id in list(self.running):
            self.kill(task_id, reason)
        return len(self.running)

    async def give_back(self, timeout: float) -> None:
        """Put the tasks stopped before they started back on pending, last claimed first, so that they
        keep their order at the taking end."""
        if not self.given_back:
            return
        entries = sorted(self.given_back, key=lambda e: e.order, reverse=True)
        task_ids = [entry.job.task_id for entry in entries]
        calls = [self._by_queue[entry.job.queue].unclaim(entry.job.task_id) for entry in entries]
        try:
            await asyncio.wait_for(retrying("giving back tasks", lambda: run_scripts(self.conn, calls)), timeout)
            log.info("gave back %d task(s) that had not started to %s", len(calls),
                     ", ".join(sorted({self._by_queue[e.job.queue].pending for e in entries})))  # fmt: skip
        except asyncio.TimeoutError:
            log.error(
                "could not give back %d task(s) (is Redis reachable?); they stay on %s, to be recovered: %s",
                len(calls), ", ".join(sorted({self._by_queue[e.job.queue].executing for e in entries})),
                ", ".join(task_ids),
            )  # fmt: skip
