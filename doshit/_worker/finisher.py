"""Writing results: outcomes are queued as tasks end and written in batches, one pipeline of finish
calls each, retried until Redis takes them."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

import redis.asyncio

from .._core import codec
from .._core.outcome import Outcome
from .._core.schema import FinishReply, Result
from .._core.worker_rules import WorkerProtocol
from .._redis import run_scripts
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

    def put(self, task_id: str, outcome: Outcome) -> None:
        self._queue.put_nowait((task_id, outcome, codec.now_timestamp()))

    async def run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self.busy():  # outcomes arriving in this same moment go in the same pipeline
                await asyncio.sleep(0)
            while len(batch) < FINISH_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await retrying("writing results", functools.partial(self._write, batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[tuple[str, Outcome, str]]) -> None:
        calls = [self.protocol.finish(task_id, outcome, at, self.result_ttl) for task_id, outcome, at in batch]
        for (task_id, outcome, _), reply in zip(batch, await run_scripts(self.conn, calls), strict=True):
            if reply.status == FinishReply.FINISHED:
                self.done[Result.SUCCESSFUL if outcome.ok else Result.FAILED] += 1
            elif reply.status == FinishReply.GONE:
                log.warning("task %s: its hash was gone when its result was written; result dropped", task_id)
            else:
                log.warning("task %s: no longer executing on this worker; its result was not written", task_id)

    async def flush(self, timeout: float) -> None:
        """Wait until every queued outcome is written, for at most ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except asyncio.TimeoutError:
            log.error(
                "could not write %d result(s) before exiting (is Redis reachable?); those tasks stay on %s",
                self._queue.qsize(), self.protocol.executing,
            )  # fmt: skip
