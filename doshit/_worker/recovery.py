"""Nothing lost: the queue's workers give back the tasks of workers that died, and run the scheduled
tasks (delayed ones and retries) when they are due.

- ``Recovery``: every interval, one worker of the queue (the one holding the recovery lock) looks at
  each id on executing. A task whose worker hash is gone, or that was popped and never claimed, is
  marked; if it is still without a live owner after the grace period, it goes back to pending (taken
  next), or is finished failed once it has used its attempts. Everything is decided in the recover
  script, atomically, so any number of workers on any number of machines may try at once. Tasks of
  legacy workers (no worker field) are never touched. Every few rounds it also takes off the failed
  index the ids whose hash has expired.
- ``Promoter``: moves the due ids of the scheduled set to pending, sleeping until the next one is due
  (or a scheduled command says a new one came).
- ``Audit``: after Redis was unavailable or its master moved (a failover), each worker looks for the
  tasks Redis says it runs and it does not hold: what it wrote of their end was lost with the old
  master (replication is asynchronous), so they would stay executing under a live worker forever.
  Seen so twice, one interval apart, such a task is given back to its queue (unclaim).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable, Collection, Sequence
from typing import Any

import redis
import redis.asyncio

from .._core import codec
from .._core.keys import NO_WORKER
from .._core.schema import PromoteReply, RecoverReply, State, TaskField, UnclaimReply
from .._core.stats import Stats
from .._core.worker_rules import WorkerProtocol
from .._redis import disruptions, run_scripts_apart, unavailable
from .consumer import drop_ids
from .events import Event, Hooks
from .upkeep import Retry

log = logging.getLogger("doshit.worker")

BATCH = 500
"""At most this many ids are handled in one pipeline."""
PROMOTE_WAIT = 2.0
"""The longest a promoter sleeps without looking at the scheduled set (a task scheduled by a producer
that sends no scheduled command is seen within it)."""
TRIM_EVERY = 12
"""Every this many recovery rounds, the failed index loses the ids whose hash is gone."""
AUDIT_ROUNDS = 3
"""After each disruption, a worker looks at its own tasks in this many rounds that reach Redis."""


class Recovery:
    """Gives back the tasks of dead workers on one queue; see the module's docstring."""

    def __init__(
        self,
        conn: redis.asyncio.Redis,
        protocol: WorkerProtocol,
        *,
        interval: float,
        grace: float,
        default_retries: int,
        result_ttl: int,
        hooks: Hooks | None = None,
        stats: Stats | None = None,
    ) -> None:
        self.conn = conn
        self.protocol = protocol
        self.hooks = hooks
        self.stats = stats
        self.interval = interval
        self.grace_ms = int(grace * 1000)
        self.default_retries = default_retries
        self.result_ttl = result_ttl
        self.rounds = 0
        self.counts: collections.Counter[str] = collections.Counter()
        """How often each recover reply came, since the worker started."""

    async def once(self, retry: Retry) -> None:
        """One round, if this worker gets the queue's recovery lock for it."""
        keys, queue = self.protocol.keys, self.protocol.queue
        lock_ms = max(1, int(self.interval * 900))  # expires before the next round of any worker
        if not await self.conn.set(keys.recovery(queue), self.protocol.worker_id, nx=True, px=lock_ms):
            return
        self.rounds += 1
        ids = list(dict.fromkeys(str(i) for i in await self.conn.lrange(self.protocol.executing, 0, -1)))
        for start in range(0, len(ids), BATCH):
            await self._look(ids[start : start + BATCH])
        if self.rounds % TRIM_EVERY == 1:
            await self._trim_failed()

    async def _look(self, ids: list[str]) -> None:
        strays = [task_id for task_id in ids if not self.protocol.runs_id(task_id)]
        if strays:  # (no recover script can reach their task keys: the consumer's drop does for them)
            await drop_ids(self.conn, self.protocol, strays)
            ids = [task_id for task_id in ids if task_id not in strays]
            if not ids:
                return
        pipe = self.conn.pipeline(transaction=False)
        for task_id in ids:
            pipe.hget(self.protocol.keys.task(task_id), TaskField.WORKER)
        owners = await pipe.execute(raise_on_error=False)
        alive: list[bool | None] = [None] * len(ids)
        if self.protocol.keys.cluster:  # the worker keys are in another slot: look at them here, then recover
            pipe = self.conn.pipeline(transaction=False)
            for owner in owners:
                pipe.exists(self.protocol.keys.worker(owner if isinstance(owner, str) else NO_WORKER))
            alive = [found == 1 for found in await pipe.execute()]
        now = codec.now_timestamp()
        calls = [
            self.protocol.recover(
                task_id, owner if isinstance(owner, str) else None, now, self.grace_ms, self.default_retries,
                self.result_ttl, owner_alive,
            )
            for task_id, owner, owner_alive in zip(ids, owners, alive, strict=True)
        ]  # fmt: skip
        for task_id, owner, reply in zip(ids, owners, await run_scripts_apart(self.conn, calls), strict=True):
            if isinstance(reply, Exception):
                log.error("task %s: could not look at it for recovery: %s", task_id, reply)
                continue
            self.counts[reply.status] += 1
            if reply.status in (RecoverReply.REQUEUED, RecoverReply.FAILED):
                if self.stats is not None:
                    self.stats.recovered(self.protocol.queue)
                if self.hooks is not None:
                    self._recovered(task_id, owner if isinstance(owner, str) else None, reply.status)
            if reply.status == RecoverReply.REQUEUED:
                was = f"worker {owner} is gone" if isinstance(owner, str) else "it was popped and never claimed"
                log.warning("task %s: %s; gave it back to %s", task_id, was, self.protocol.pending)
            elif reply.status == RecoverReply.FAILED:
                log.warning("task %s: worker %s is gone and the task used its attempts; finished it failed",
                            task_id, owner)  # fmt: skip
            elif reply.status == RecoverReply.DROPPED:
                log.warning("task %s: not a task hash; dropped its id from %s", task_id, self.protocol.executing)

    def _recovered(self, task_id: str, owner: str | None, status: str) -> None:
        assert self.hooks is not None
        if self.hooks.wants("task_recovered"):
            reason = "given back to pending" if status == RecoverReply.REQUEUED else "failed: it used its attempts"
            self.hooks.emit(
                Event("task_recovered", self.protocol.worker_id, self.protocol.queue, task_id, reason=reason,
                      dead_worker=owner)
            )  # fmt: skip

    async def _trim_failed(self) -> None:
        failed = self.protocol.keys.failed(self.protocol.queue)
        ids = [str(i) for i in await self.conn.zrange(failed, 0, BATCH - 1)]
        if not ids:
            return
        pipe = self.conn.pipeline(transaction=False)
        for task_id in ids:
            pipe.exists(self.protocol.keys.task(task_id))
        gone = [task_id for task_id, exists in zip(ids, await pipe.execute(), strict=True) if not exists]
        if gone:
            await self.conn.zrem(failed, *gone)


class Promoter:
    """Moves due scheduled tasks to pending; ``wake`` makes it look again at once."""

    def __init__(self, conn: redis.asyncio.Redis, protocol: WorkerProtocol) -> None:
        self.conn = conn
        self.protocol = protocol
        self.wake = asyncio.Event()
        self.promoted = 0

    async def run(self) -> None:
        retry = Retry("promoting scheduled tasks")
        while True:
            try:
                delay = await self.once()
                retry.succeeded()
            except (redis.RedisError, OSError) as exc:
                if unavailable(exc):
                    delay = retry.failed(exc)
                else:
                    log.error("error while promoting scheduled tasks: %s", exc)
                    delay = PROMOTE_WAIT
            self.wake.clear()
            if delay > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), delay)

    async def once(self) -> float:
        """Promote what is due; returns how long to sleep before looking again."""
        scheduled = self.protocol.keys.scheduled(self.protocol.queue)
        due = [str(i) for i in await self.conn.zrangebyscore(scheduled, "-inf", codec.unix_ms(), start=0, num=BATCH)]
        if due:
            replies = await run_scripts_apart(self.conn, [self.protocol.promote(task_id) for task_id in due])
            self.promoted += sum(
                1 for r in replies if not isinstance(r, Exception) and r.status == PromoteReply.PROMOTED
            )
            if len(due) == BATCH:
                return 0
        upcoming: list[Any] = await self.conn.zrange(scheduled, 0, 0, withscores=True)
        if not upcoming:
            return PROMOTE_WAIT
        score = float(upcoming[0][1])
        return max(0.0, min(PROMOTE_WAIT, (score - codec.unix_ms()) / 1000))


class Audit:
    """Gives back the tasks that Redis says this worker runs and it does not hold; see the module's
    docstring. Runs only for AUDIT_ROUNDS rounds after this process saw Redis unavailable or its
    master move, so a worker reads the executing lists only then."""

    def __init__(
        self, conn: redis.asyncio.Redis, protocols: Sequence[WorkerProtocol], held: Callable[[], Collection[str]]
    ) -> None:
        self.conn = conn
        self.protocols = list(protocols)
        self.held = held
        """The ids of the tasks this worker holds: claimed, and their end not written yet."""
        self.given_back = 0
        self._seen = disruptions()
        self._rounds_left = 0
        self._suspects: dict[str, str] = {}
        """Ids (and their attempt) found executing under this worker, not held, in the last round."""

    async def once(self, retry: Retry) -> None:
        if disruptions() != self._seen:
            self._seen = disruptions()
            self._rounds_left = AUDIT_ROUNDS
        if self._rounds_left <= 0:
            self._suspects.clear()
            return
        found: list[tuple[WorkerProtocol, str, str]] = []
        for protocol in self.protocols:
            ids = list(dict.fromkeys(str(i) for i in await self.conn.lrange(protocol.executing, 0, -1)))
            for start in range(0, len(ids), BATCH):
                batch = ids[start : start + BATCH]
                pipe = self.conn.pipeline(transaction=False)
                for task_id in batch:
                    pipe.hmget(protocol.keys.task(task_id), TaskField.STATE, TaskField.WORKER, TaskField.ATTEMPT)
                for task_id, fields in zip(batch, await pipe.execute(raise_on_error=False), strict=True):
                    if isinstance(fields, list) and fields[:2] == [State.EXECUTING, protocol.worker_id]:
                        found.append((protocol, task_id, str(fields[2])))
        held = set(self.held())  # read after Redis answered: a task claimed since then is held now
        suspects: dict[str, str] = {}
        lost: list[tuple[WorkerProtocol, str]] = []
        for protocol, task_id, attempt in found:
            if task_id in held:
                continue
            if self._suspects.get(task_id) == attempt:  # the second time: not a claim whose reply is on its way
                lost.append((protocol, task_id))
            else:
                suspects[task_id] = attempt
        if lost:
            replies = await run_scripts_apart(self.conn, [protocol.unclaim(task_id) for protocol, task_id in lost])
            for (protocol, task_id), reply in zip(lost, replies, strict=True):
                if isinstance(reply, Exception) or reply.status != UnclaimReply.GIVEN_BACK:
                    continue
                self.given_back += 1
                log.warning(
                    "task %s: Redis says this worker runs it, but it does not (what it wrote of the run was lost, "
                    "with a failover?); gave it back to %s", task_id, protocol.pending,
                )  # fmt: skip
        self._suspects = suspects
        self._rounds_left -= 1
