"""Writing results: outcomes are queued as tasks end and written in batches, one pipeline of finish
calls each, retried while Redis is unavailable. One task's write that Redis refuses fails that task
with a readable reason and never holds up the others."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import redis.asyncio

from .._core import codec
from .._core.outcome import Outcome, failed
from .._core.schema import FinishReply, Reason, Result, RetryReply
from .._core.scripts import Reply, ScriptCall
from .._core.worker_rules import RETRIED, WorkerProtocol
from .._redis import run_scripts_apart
from .upkeep import retrying

log = logging.getLogger("doshit.worker")


FINISH_BATCH = 500
"""At most this many outcomes are written in one pipeline."""


@dataclass(frozen=True)
class Written:
    """One outcome to write: the run it ends, when it ended, and for a retry when to run again."""

    task_id: str
    attempt: int
    outcome: Outcome
    at: str
    queue: str
    retry_at: str | None = None
    progress: str | None = None
    """The last progress the run reported, not written yet: it is written with the outcome."""


class Finisher:
    """Writes each outcome: the finish script (result fields, LREM executing, EXPIRE, PUBLISH), or for a
    failure worth a retry the retry script (the error into errors, the task scheduled again)."""

    def __init__(
        self,
        conn: redis.asyncio.Redis,
        protocols: Mapping[str, WorkerProtocol],
        result_ttl: int,
        busy: Callable[[], bool],
    ) -> None:
        self.conn = conn
        self.protocols = protocols
        """The script calls of each queue the worker serves."""
        self.result_ttl = result_ttl
        self.busy = busy
        """True while tasks run: then outcomes arriving in the same moment are worth waiting for."""
        self.done = {Result.SUCCESSFUL: 0, Result.FAILED: 0, RETRIED: 0}
        """Tasks finished by result, and runs scheduled again to retry."""
        self._queue: asyncio.Queue[Written] = asyncio.Queue()
        self._unwritten: dict[str, None] = {}
        """The ids of the tasks whose outcome is queued or being written, in order."""

    def finish(self, task_id: str, attempt: int, outcome: Outcome, queue: str, progress: str | None = None) -> None:
        self._put(Written(task_id, attempt, outcome, codec.now_timestamp(), queue, progress=progress))

    def retry(
        self, task_id: str, attempt: int, outcome: Outcome, queue: str, delay: float, progress: str | None = None
    ) -> None:
        now = time.time()
        due = codec.format_timestamp(datetime.fromtimestamp(now + delay, timezone.utc))
        at = codec.format_timestamp(datetime.fromtimestamp(now, timezone.utc))
        self._put(Written(task_id, attempt, outcome, at, queue, due, progress))

    def _put(self, written: Written) -> None:
        self._unwritten[written.task_id] = None
        self._queue.put_nowait(written)

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
                task_ids = ", ".join(item.task_id for item in batch)
                log.exception("could not write the results of %d task(s): %s", len(batch), task_ids)
                continue  # they stay unwritten
            finally:
                for _ in batch:
                    self._queue.task_done()
            for item in batch:
                self._unwritten.pop(item.task_id, None)

    def _call(self, item: Written) -> ScriptCall:
        protocol = self.protocols[item.queue]
        if item.retry_at is not None:
            return protocol.retry(item.task_id, item.attempt, item.outcome, item.at, item.retry_at, item.progress)
        return protocol.finish(item.task_id, item.attempt, item.outcome, item.at, self.result_ttl, item.progress)

    async def _write(self, batch: list[Written]) -> None:
        refused: list[tuple[Written, Exception]] = []
        for item, reply in zip(batch, await run_scripts_apart(self.conn, [self._call(i) for i in batch]), strict=True):
            if isinstance(reply, Exception):
                refused.append((item, reply))
            else:
                self._written(item, reply)
        if refused:
            await self._write_failures(refused)

    def _written(self, item: Written, reply: Reply) -> None:
        if reply.status in (FinishReply.FINISHED, RetryReply.SCHEDULED):
            outcome = item.outcome
            kind = RETRIED if item.retry_at else Result.SUCCESSFUL if outcome.ok else Result.FAILED
            self.done[kind] += 1
        elif reply.status == FinishReply.GONE:
            log.warning("task %s: its hash was gone when its result was written; result dropped", item.task_id)
        elif reply.status == FinishReply.WRONGTYPE:
            log.warning(
                "task %s: its key is not a task hash; id dropped from %s", item.task_id,
                self.protocols[item.queue].executing,
            )  # fmt: skip
        else:
            log.warning("task %s: no longer this worker's run; its result was not written", item.task_id)

    async def _write_failures(self, refused: list[tuple[Written, Exception]]) -> None:
        """Redis refused these writes (not for being unavailable): finish each task failed with the
        reason instead, a small write that needs nothing of the outcome that was refused."""
        failures = [
            Written(item.task_id, item.attempt, failed(Reason.WRITE_FAILED.format(detail=exc)), item.at, item.queue)
            for item, exc in refused
        ]
        for failure, (_, first), reply in zip(
            failures, refused, await run_scripts_apart(self.conn, [self._call(f) for f in failures]), strict=True
        ):
            log.error("task %s: Redis refused its result: %s", failure.task_id, first)
            if isinstance(reply, Exception):
                log.error("task %s: Redis refused its failure too (%s); it stays on %s", failure.task_id, reply,
                          self.protocols[failure.queue].executing)  # fmt: skip
            else:
                self._written(failure, reply)

    async def flush(self, timeout: float) -> list[str]:
        """Wait until every queued outcome is written, for at most ``timeout`` seconds; returns the ids
        of the tasks whose outcome could not be written."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)
        return self.unwritten
