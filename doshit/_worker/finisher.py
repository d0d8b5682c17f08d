"""Writing results: outcomes are queued as tasks end and written in batches, one pipeline of finish
calls each, retried while Redis is unavailable. One task's write that Redis refuses fails that task
with a readable reason and never holds up the others."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable

import redis.asyncio

from .._core import codec
from .._core.outcome import Outcome, failed
from .._core.schema import FinishReply, Reason, Result
from .._core.scripts import Reply
from .._core.worker_rules import WorkerProtocol
from .._redis import run_scripts_apart
from .upkeep import retrying

log = logging.getLogger("doshit.worker")

FINISH_BATCH = 500
"""At most this many outcomes are written in one pipeline."""


class Finisher:
    """Writes each outcome with the finish script: result fields, LREM executing, EXPIRE, PUBLISH."""

    def __init__(
        self, conn: redis.asyncio.Redis, protocol: WorkerProtocol, result_ttl: int, busy: Callable[[], bool]
    ) -> None:
        self.conn = conn
        self.protocol = protocol
        self.result_ttl = result_ttl
        self.busy = busy
        """True while tasks run: then outcomes arriving in the same moment are worth waiting for."""
        self.done = {Result.SUCCESSFUL: 0, Result.FAILED: 0}
        self._queue: asyncio.Queue[tuple[str, Outcome, str]] = asyncio.Queue()
        """Outcomes to write: task id, outcome, when it finished."""
        self._unwritten: dict[str, None] = {}
        """The ids of the tasks whose outcome is queued or being written, in order."""

    def put(self, task_id: str, outcome: Outcome) -> None:
        self._unwritten[task_id] = None
        self._queue.put_nowait((task_id, outcome, codec.now_timestamp()))

    @property
    def unwritten(self) -> list[str]:
        """Ids of the tasks whose outcome is not written (nor given up on) yet."""
        return list(self._unwritten)

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self.busy():  # outcomes arriving in this same moment go in the same pipeline
                await asyncio.sleep(0)
            while len(batch) < FINISH_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await retrying("writing results", functools.partial(self._write, batch))
            except Exception:  # a fault of ours, or access refused: the next batch may fare better
                task_ids = ", ".join(task_id for task_id, _, _ in batch)
                log.exception("could not write the results of %d task(s): %s", len(batch), task_ids)
                continue  # they stay unwritten
            finally:
                for _ in batch:
                    self._queue.task_done()
            for task_id, _, _ in batch:
                self._unwritten.pop(task_id, None)

    async def _write(self, batch: list[tuple[str, Outcome, str]]) -> None:
        calls = [self.protocol.finish(task_id, outcome, at, self.result_ttl) for task_id, outcome, at in batch]
        refused: list[tuple[str, str, Exception]] = []
        for (task_id, outcome, at), reply in zip(batch, await run_scripts_apart(self.conn, calls), strict=True):
            if isinstance(reply, Exception):
                refused.append((task_id, at, reply))
            else:
                self._written(task_id, outcome, reply)
        if refused:
            await self._write_failures(refused)

    def _written(self, task_id: str, outcome: Outcome, reply: Reply) -> None:
        if reply.status == FinishReply.FINISHED:
            self.done[Result.SUCCESSFUL if outcome.ok else Result.FAILED] += 1
        elif reply.status == FinishReply.GONE:
            log.warning("task %s: its hash was gone when its result was written; result dropped", task_id)
        elif reply.status == FinishReply.WRONGTYPE:
            log.warning("task %s: its key is not a task hash; id dropped from %s", task_id, self.protocol.executing)
        else:
            log.warning("task %s: no longer executing on this worker; its result was not written", task_id)

    async def _write_failures(self, refused: list[tuple[str, str, Exception]]) -> None:
        """Redis refused these writes (not for being unavailable): finish each task failed with the
        reason instead, a small write that needs nothing of the outcome that was refused."""
        failures = [(task_id, failed(Reason.WRITE_FAILED.format(detail=exc)), at) for task_id, at, exc in refused]
        calls = [self.protocol.finish(task_id, outcome, at, self.result_ttl) for task_id, outcome, at in failures]
        for (task_id, outcome, _), (_, _, first), reply in zip(
            failures, refused, await run_scripts_apart(self.conn, calls), strict=True
        ):
            log.error("task %s: Redis refused its result: %s", task_id, first)
            if isinstance(reply, Exception):
                log.error("task %s: Redis refused its failure too (%s); it stays on %s", task_id, reply,
                          self.protocol.executing)  # fmt: skip
            else:
                self._written(task_id, outcome, reply)

    async def flush(self, timeout: float) -> list[str]:
        """Wait until every queued outcome is written, for at most ``timeout`` seconds; returns the ids
        of the tasks whose outcome could not be written."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)
        return self.unwritten
