"""The asyncio client: the same flows as the sync Client, driven with await."""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import redis
import redis.asyncio

from . import _protocol as p
from ._client import ClientBase
from ._config import Settings
from ._errors import ConfigError
from ._protocol import TaskInfo
from ._schema import SCRIPTS
from ._watch import FlowWatches, SubscriptionState, WatchTable

T = TypeVar("T")


class _AsyncSubscriber:
    """The client's one subscription to the results channel, as a background asyncio task."""

    def __init__(self, connect: Callable[[], redis.asyncio.Redis], channel: str) -> None:
        self._connect = connect
        self._channel = channel
        self.watches: WatchTable[asyncio.Event] = WatchTable()
        self.state = SubscriptionState(channel)
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
                    if message["type"] == "subscribe":
                        self.state.subscribed()
                        self._ready.set()
                        self._changed.set()
                        self.watches.wake(None)  # anything may have finished while we were not listening
                    elif message["type"] == "message":
                        self.watches.wake(message["data"])
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                self._ready.clear()
                delay = self.state.failed(exc)
                self._changed.set()
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

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str | None = None,
        queue: str | None = None,
        virtual_memory_limit: int | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__(url, prefix=prefix, queue=queue, virtual_memory_limit=virtual_memory_limit, settings=settings)
        self.redis = self.settings.async_redis()
        self._subscriber = _AsyncSubscriber(self.settings.async_redis, self.keys.results)

    async def _script(self, name: str, keys: tuple[str, ...], argv: tuple[Any, ...]) -> Any:
        spec = SCRIPTS[name]
        try:
            return await self.redis.evalsha(spec.sha, len(keys), *keys, *argv)
        except redis.exceptions.NoScriptError:
            await self.redis.script_load(spec.source)
            return await self.redis.evalsha(spec.sha, len(keys), *keys, *argv)

    async def _run(self, flow: p.Flow[T]) -> T:
        watches = FlowWatches(self._subscriber.watches, asyncio.Event)
        completed = False
        try:
            reply: Any = None
            while True:
                step = flow.send(reply)
                if isinstance(step, p.Call):
                    reply = await self.redis.execute_command(*step.args)
                elif isinstance(step, p.RunScript):
                    reply = await self._script(step.name, step.keys, step.argv)
                elif isinstance(step, p.Subscribe):
                    await self._subscriber.ensure()
                    reply = None
                elif isinstance(step, p.Watch):
                    await self._subscriber.ensure()
                    reply = watches.watch(step.key, step.keep)
                else:
                    event = watches.events[step.key]
                    try:
                        reply = await asyncio.wait_for(event.wait(), step.timeout)
                    except asyncio.TimeoutError:
                        reply = False
                    event.clear()
        except StopIteration as stop:
            completed = True
            return stop.value  # type: ignore[no-any-return]
        finally:
            flow.close()
            watches.end(completed)

    async def submit(self, function: str, /, **kwargs: Any) -> AsyncTask:
        """Queue a call of ``function`` with named arguments; options as for Client.submit."""
        flow, queue = self._submit_flow(function, kwargs)
        task = AsyncTask(self, await self._run(flow), queue)
        weakref.finalize(task, self._subscriber.watches.release, task.key)
        return task

    async def get(self, task_id: str) -> AsyncTask:
        """A handle to an existing task; raises TaskNotFound if there is no such hash."""
        found = await self._run(p.info(self.keys, task_id))
        return AsyncTask(self, task_id, found.queue)

    async def info(self, task_id: str) -> TaskInfo:
        return await self._run(p.info(self.keys, task_id))

    async def kill_all(self) -> int:
        return await self._run(p.kill_all(self.keys))

    async def close(self) -> None:
        await self._subscriber.close()
        await self.redis.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncTask:
    """A submitted task, for asyncio code. Every method reads Redis; nothing is cached."""

    def __init__(self, client: AsyncClient, task_id: str, queue: str | None = None) -> None:
        self.client = client
        self.task_id = task_id
        self.queue = queue
        self.key = client.keys.task(task_id)

    def __repr__(self) -> str:
        return f"<AsyncTask {self.task_id}>"

    async def wait(self, timeout: float | None = None) -> TaskInfo:
        return await self.client._run(p.wait(self.client.keys, self.task_id, timeout))

    async def wait_result(self, timeout: float | None = None) -> Any:
        return (await self.wait(timeout)).outcome()

    async def poll(self) -> bool:
        return await self.client._run(p.poll(self.client.keys, self.task_id))

    async def info(self) -> TaskInfo:
        return await self.client._run(p.info(self.client.keys, self.task_id))

    async def cancel(self) -> str:
        return await self.client._run(p.cancel(self.client.keys, self.task_id, self.queue, self.client.queue))
