"""The asyncio client: the same flows as the sync Client, driven with await."""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import redis.asyncio

from .._core import flows as f
from .._core.taskinfo import TaskInfo
from .._errors import ConfigError
from .._redis import SUBSCRIPTION_ERRORS, connect_async, run_scripts
from .sync import CLIENT_NAME, ClientBase, TaskHandle, warn_unserved
from .watch import FlowRun, FlowWatches, SubscriptionState, WatchTable

T = TypeVar("T")


class _AsyncSubscriber:
    """The client's one subscription to the results channel, as a background asyncio task."""

    def __init__(self, connect: Callable[[], redis.asyncio.Redis], channel: str) -> None:
        self._connect = connect
        self._channel = channel
        self.watches: WatchTable[asyncio.Event] = WatchTable()
        self.state = SubscriptionState(channel, self.watches)
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def ensure(self, timeout: float = 10.0) -> None:
        if self._closed:
            raise ConfigError("client is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="doshit-results")
        failures, deadline = self.state.failures, time.monotonic() + timeout
        while not self._ready.is_set():
            problem = self.state.problem(failures, deadline)
            if problem is not None:
                raise problem
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.1)

    async def _run(self) -> None:
        while True:
            connection = self._connect()
            pubsub = connection.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                async for message in pubsub.listen():
                    if self.state.heard(message):
                        self._ready.set()
                        self._changed.set()
            except SUBSCRIPTION_ERRORS as exc:
                self._ready.clear()
                delay = self.state.failed(exc)
                self._changed.set()
                if delay is None:
                    return
                await asyncio.sleep(delay)
            finally:
                await pubsub.aclose()
                await connection.aclose()

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class AsyncClient(ClientBase):
    """Submit tasks and await their results.

    >>> client = AsyncClient("redis://127.0.0.1:6379/0")
    >>> task = await client.submit("echo", text="hi")
    >>> await task.wait_result(timeout=10)
    'hi'
    """

    def _open(self) -> None:
        self.redis = connect_async(self.settings, pool_size=self.max_connections, client_name=CLIENT_NAME)
        self._subscriber = _AsyncSubscriber(
            lambda: connect_async(self.settings, retries=0, client_name=CLIENT_NAME), self.keys.results
        )

    async def _do(self, step: f.Step, watches: FlowWatches[asyncio.Event]) -> Any:
        """The I/O of one step of a flow; returns its reply."""
        if isinstance(step, f.Call):
            return await self.redis.execute_command(*step.args)
        if isinstance(step, f.RunScript):
            return (await run_scripts(self.redis, [step.call], self.settings.durability))[0]
        if isinstance(step, f.Subscribe):
            return await self._subscriber.ensure()
        if isinstance(step, f.Watch):
            return watches.watch(step.key, step.keep)
        event = watches.events[step.key]
        try:
            return await asyncio.wait_for(event.wait(), step.timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            event.clear()

    async def _run(self, flow: f.Flow[T]) -> T:
        with FlowRun(flow, self._subscriber.watches, asyncio.Event) as run:
            step = run.send(None)
            while step is not None:
                try:
                    reply = await self._do(step, run.watches)
                except (redis.RedisError, OSError) as exc:
                    step = run.failed(exc)
                    continue
                step = run.send(reply)
            return run.result()

    async def submit(self, function: str, /, **kwargs: Any) -> AsyncTask:
        """Queue a call of ``function`` with named arguments; options as for Client.submit."""
        flow, queue = self._submit_flow(function, kwargs)
        task = AsyncTask(self, await self._run(flow), queue)
        weakref.finalize(task, self._subscriber.watches.release, task.key)
        return task

    async def submit_many(
        self, function: str, arguments: Iterable[Mapping[str, Any]], /, **options: Any
    ) -> list[AsyncTask]:
        """Queue many calls of ``function`` at once, all or none; as Client.submit_many."""
        flow, queue = self._submit_many_flow(function, arguments, options)
        return [AsyncTask(self, task_id, queue) for task_id in await self._run(flow)]

    async def get(self, task_id: str) -> AsyncTask:
        """A handle to an existing task; raises TaskNotFound if there is no such hash."""
        found = await self._run(f.info(self.keys, task_id))
        return AsyncTask(self, task_id, found.queue)

    async def info(self, task_id: str) -> TaskInfo:
        return await self._run(f.info(self.keys, task_id))

    async def kill_all(self) -> int:
        return await self._run(f.kill_all(self.keys))

    async def requeue(self, task_id: str) -> str:
        """Run a failed task again; as Client.requeue."""
        return await self._run(f.requeue(self.keys, task_id, self.queue))

    async def close(self) -> None:
        await self._subscriber.close()
        await self.redis.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncTask(TaskHandle[AsyncClient]):
    """A submitted task, for asyncio code. Every method reads Redis; nothing is cached."""

    async def wait(self, timeout: float | None = None) -> TaskInfo:
        queue = self.client._unchecked(self.queue, timeout)
        if queue is not None and not await self.client._run(f.served(self.client.keys, queue)):
            warn_unserved(queue)
        return await self.client._run(f.wait(self.client.keys, self.task_id, timeout))

    async def wait_result(self, timeout: float | None = None) -> Any:
        return (await self.wait(timeout)).outcome()

    async def poll(self) -> bool:
        return await self.client._run(f.poll(self.client.keys, self.task_id))

    async def info(self) -> TaskInfo:
        return await self.client._run(f.info(self.client.keys, self.task_id))

    async def cancel(self) -> str:
        return await self.client._run(f.cancel(self.client.keys, self.task_id, self.client.queue))

    async def requeue(self) -> str:
        return await self.client.requeue(self.task_id)
