"""Taking tasks: pop ids from pending onto executing, claim them, hand them to the pool, and keep the
table of the tasks in flight (to kill them, wait for them, or give back those that never started)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from dataclasses import dataclass
from typing import Protocol

import redis
import redis.asyncio

from .._core import codec
from .._core.keys import valid_task_id
from .._core.outcome import Outcome, failed
from .._core.schema import Reason
from .._core.text import shown
from .._core.worker_rules import Dropped, Job, Refused, WorkerProtocol
from .._redis import run_scripts, unavailable
from .pool import GIVE_BACK, GiveBack, Kill, NotStarted, Pool, Stop
from .registry import Registry
from .upkeep import Retry, Stopped, pause, retrying

log = logging.getLogger("doshit.worker")


@dataclass
class InFlight:
    """A claimed task: its job, the order it was claimed in, the future that stops it before it starts,
    and the timer of its time limit once it runs."""

    job: Job
    order: int
    stop: asyncio.Future[Stop]
    timer: asyncio.TimerHandle | None = None
    over_time: bool = False


class Outcomes(Protocol):
    """Where the consumer sends what became of each task (the Finisher)."""

    def finish(self, task_id: str, attempt: int, outcome: Outcome) -> None: ...

    def retry(self, task_id: str, attempt: int, outcome: Outcome, delay: float) -> None: ...


class Consumer:
    """Takes tasks from one queue as long as it has free slots, and runs each in the pool.

    When idle it blocks on BRPOPLPUSH for one id; when the last claim saw a backlog it takes as many at
    once as it has free slots, with pipelined RPOPLPUSH. Every outcome goes to ``finish``.
    """

    def __init__(
        self,
        conn: redis.asyncio.Redis,
        protocol: WorkerProtocol,
        pool: Pool,
        outcomes: Outcomes,
        registry: Registry,
        *,
        burst: bool,
        poll_timeout: int,
        task_timeout: float | None = None,
    ) -> None:
        self.conn = conn
        self.protocol = protocol
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
        self._wake = asyncio.Event()
        self._order = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

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
            if self._free == 0:
                self._wake.clear()
                await self._wake.wait()
                await asyncio.sleep(0)  # let the tasks finishing in this same moment free their slots too
                continue
            try:
                ids = await self._fetch(min(self._free, backlog), block=not backlog and not self.burst)
            except (redis.RedisError, OSError) as exc:
                if not unavailable(exc):
                    raise
                with contextlib.suppress(Stopped):
                    await pause(retry.failed(exc), self.stopped)
                continue
            retry.succeeded()
            if ids:
                backlog = await self._claim(ids)
            elif self.burst:
                log.info("burst: queue %r is empty", self.protocol.queue)
                return
            else:
                backlog = 0

    async def _fetch(self, count: int, *, block: bool) -> list[str]:
        pending, executing = self.protocol.pending, self.protocol.executing
        if block:
            first = await self.conn.brpoplpush(pending, executing, timeout=self.poll_timeout)
            return [] if first is None else [str(first)]  # str already: the connection decodes
        pipe = self.conn.pipeline(transaction=False)
        for _ in range(max(count, 1)):
            pipe.rpoplpush(pending, executing)
        return [i for i in await pipe.execute() if i is not None]

    async def _claim(self, ids: list[str]) -> int:
        """Claim what we popped (those ids are on executing now: retry until the claims are through).
        Returns how many tasks are still pending."""
        invalid = [task_id for task_id in ids if not valid_task_id(task_id)]
        if invalid:
            await self._drop(invalid)
            ids = [task_id for task_id in ids if task_id not in invalid]
        if not ids:
            return 0
        now = codec.now_timestamp()
        calls = [self.protocol.claim(task_id, now) for task_id in ids]
        replies = await retrying("claiming tasks", lambda: run_scripts(self.conn, calls))
        for task_id, reply in zip(ids, replies, strict=True):
            claimed = self.protocol.read_claim(task_id, reply)
            if isinstance(claimed, Job):
                self._start(claimed)
            elif isinstance(claimed, Refused):
                log.warning("task %s cannot run: %s", task_id, shown(claimed.outcome.reason, 300))
                self.outcomes.finish(task_id, claimed.attempt, claimed.outcome)
            elif isinstance(claimed, Dropped):
                log.warning("dropped task id %s from %s: %s", task_id, self.protocol.executing, claimed.why)
        return int(replies[-1]["backlog"])

    async def _drop(self, task_ids: list[str]) -> None:
        """Take ids that break the schema's id rule off executing: no task can have them."""
        pipe = self.conn.pipeline(transaction=False)
        for task_id in task_ids:
            log.warning("dropped invalid task id %s from %s", shown(task_id), self.protocol.executing)
            pipe.lrem(self.protocol.executing, 1, task_id)
        await retrying("dropping invalid task ids", pipe.execute)

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
        try:
            outcome = await self.pool.run(job, entry.stop, lambda: self._started(entry))
        except NotStarted as stopped:
            if isinstance(stopped.stop, GiveBack):
                self.given_back.append(entry)
                return
            outcome = failed(stopped.stop.reason, "killed before it started")
        except Exception as exc:  # a fault in the pool itself must still finish the task
            log.exception("task %s: the pool failed", job.task_id)
            outcome = failed(f"worker error: {type(exc).__name__}: {exc}")
        finally:
            if entry.timer is not None:
                entry.timer.cancel()
            del self.running[job.task_id]
            self._free += 1
            self._wake.set()
            if not self.running:
                self.idle.set()
        self._done(entry, outcome)

    def _started(self, entry: InFlight) -> None:
        """The task runs now: its time limit starts."""
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
        if outcome.ok:
            log.debug("task %s: %s successful", job.task_id, shown(job.function))
            self.outcomes.finish(job.task_id, job.attempt, outcome)
            return
        policy = self.registry.policy(job.function).retry
        if (outcome.retryable or entry.over_time) and job.attempt <= policy.retries_for(job):
            delay = policy.delay(job.attempt, random.random())
            log.info("task %s: %s failed (attempt %d): %s; retrying in %.1f s", job.task_id, shown(job.function),
                     job.attempt, shown(outcome.reason, 300), delay)  # fmt: skip
            self.outcomes.retry(job.task_id, job.attempt, outcome, delay)
            return
        log.info("task %s: %s failed: %s", job.task_id, shown(job.function), shown(outcome.reason, 300))
        self.outcomes.finish(job.task_id, job.attempt, outcome)

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
        task_ids = [entry.job.task_id for entry in sorted(self.given_back, key=lambda e: e.order, reverse=True)]
        calls = [self.protocol.unclaim(task_id) for task_id in task_ids]
        try:
            await asyncio.wait_for(retrying("giving back tasks", lambda: run_scripts(self.conn, calls)), timeout)
            log.info("gave back %d task(s) that had not started to %s", len(calls), self.protocol.pending)
        except asyncio.TimeoutError:
            log.error(
                "could not give back %d task(s) (is Redis reachable?); they stay on %s, to be recovered: %s",
                len(calls), self.protocol.executing, ", ".join(task_ids),
            )  # fmt: skip
