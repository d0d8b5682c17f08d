"""The synchronous client: a thin driver of the flows in _protocol.

One subscriber thread per client listens on the results channel and wakes the threads waiting for a
task; waiting itself never misses a result because every flow re-reads the hash after watching.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import redis

from . import _protocol as p
from ._config import Settings, resolve
from ._errors import ConfigError
from ._protocol import TaskInfo
from ._schema import SCRIPTS
from ._watch import FlowWatches, SubscriptionState, thread_safe_table

T = TypeVar("T")


class ClientBase:
    """Everything a client knows without doing I/O: settings, keys, defaults."""

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str | None = None,
        queue: str | None = None,
        virtual_memory_limit: int | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or resolve(url, prefix=prefix, queue=queue, virtual_memory_limit=virtual_memory_limit)
        self.keys = self.settings.keys
        self.prefix = self.settings.prefix
        self.queue = self.settings.queue

    def _submit_flow(self, function: str, kwargs: dict[str, Any]) -> tuple[p.Flow[str], str]:
        """The submit flow and the queue it pushes on."""
        args, options = p.split_options(dict(kwargs))
        if options.virtual_memory_limit is None and self.settings.virtual_memory_limit:
            options = replace(options, virtual_memory_limit=self.settings.virtual_memory_limit)
        queue = options.queue or self.queue
        return p.submit(self.keys, queue, function, args, options), queue

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.settings.describe()} prefix={self.prefix} queue={self.queue}>"


class _Subscriber:
    """The client's one subscription to the results channel, in a daemon thread."""

    def __init__(self, connect: Callable[[], redis.Redis], channel: str) -> None:
        self._connect = connect
        self._channel = channel
        self._lock = threading.Lock()
        self.watches = thread_safe_table()
        self.state = SubscriptionState(channel)
        self._ready = threading.Event()
        self._changed = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._pubsub: Any = None

    def ensure(self, timeout: float = 10.0) -> None:
        with self._lock:
            if self._closed:
                raise ConfigError("client is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="doshit-results", daemon=True)
                self._thread.start()
        failures, deadline = self.state.failures, time.monotonic() + timeout
        while not self._ready.is_set():
            problem = self.state.problem(failures, deadline)
            if problem is not None:
                raise problem
            self._changed.wait(0.1)
            self._changed.clear()

    def _run(self) -> None:
        while not self._closed:
            try:
                pubsub = self._connect().pubsub()
                self._pubsub = pubsub
                pubsub.subscribe(self._channel)
                for message in pubsub.listen():
                    if message["type"] == "subscribe":
                        self.state.subscribed()
                        self._ready.set()
                        self._changed.set()
                        self.watches.wake(None)  # anything may have finished while we were not listening
                    elif message["type"] == "message":
                        self.watches.wake(message["data"])
            except (redis.ConnectionError, redis.TimeoutError, OSError, ValueError) as exc:
                self._ready.clear()
                if self._closed:
                    return
                delay = self.state.failed(exc)
                self._changed.set()
                threading.Event().wait(delay)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None and pubsub.connection is not None:
            with contextlib.suppress(Exception):  # the thread is going away either way
                pubsub.connection.disconnect()
        if self._thread is not None:
            self._thread.join(timeout=2)


class Client(ClientBase):
    """Submit tasks and read their results.

    >>> client = Client("redis://127.0.0.1:6379/0")
    >>> client.submit("echo", text="hi").wait_result(timeout=10)
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
        self._redis: redis.Redis | None = None
        self._redis_lock = threading.Lock()
        self._subscriber = _Subscriber(self.settings.sync_redis, self.keys.results)

    @property
    def redis(self) -> redis.Redis:
        """The client's connection: one, not a pool (redis-py locks it per command, and a pool
        checkout on every call costs more than the call), made at first use so that a Client can be
        created before Redis is up."""
        if self._redis is None:
            with self._redis_lock:
                if self._redis is None:
                    self._redis = self.settings.sync_redis(single_connection_client=True)
        return self._redis

    def _script(self, name: str, keys: tuple[str, ...], argv: tuple[Any, ...]) -> Any:
        spec = SCRIPTS[name]
        try:
            return self.redis.evalsha(spec.sha, len(keys), *keys, *argv)
        except redis.exceptions.NoScriptError:
            self.redis.script_load(spec.source)
            return self.redis.evalsha(spec.sha, len(keys), *keys, *argv)

    def _run(self, flow: p.Flow[T]) -> T:
        watches = FlowWatches(self._subscriber.watches, threading.Event)
        completed = False
        try:
            reply: Any = None
            while True:
                step = flow.send(reply)
                if isinstance(step, p.Call):
                    reply = self.redis.execute_command(*step.args)
                elif isinstance(step, p.RunScript):
                    reply = self._script(step.name, step.keys, step.argv)
                elif isinstance(step, p.Subscribe):
                    self._subscriber.ensure()
                    reply = None
                elif isinstance(step, p.Watch):
                    self._subscriber.ensure()
                    reply = watches.watch(step.key, step.keep)
                else:
                    event = watches.events[step.key]
                    reply = event.wait(step.timeout)
                    event.clear()
        except StopIteration as stop:
            completed = True
            return stop.value  # type: ignore[no-any-return]
        finally:
            flow.close()
            watches.end(completed)

    def submit(self, function: str, /, **kwargs: Any) -> Task:
        """Queue a call of ``function`` with named arguments; returns at once.

        Options (keyword, underscore-prefixed so they never clash with task arguments): ``_queue``,
        ``_task_id`` (refused with TaskExists if taken), ``_username``, ``_virtual_memory_limit``
        (bytes), ``_result_ttl`` (seconds to keep the finished hash; 0 keeps it).
        """
        flow, queue = self._submit_flow(function, kwargs)
        task = Task(self, self._run(flow), queue)
        weakref.finalize(task, self._subscriber.watches.release, task.key)
        return task

    def get(self, task_id: str) -> Task:
        """A handle to an existing task; raises TaskNotFound if there is no such hash."""
        found = self._run(p.info(self.keys, task_id))
        return Task(self, task_id, found.queue)

    def info(self, task_id: str) -> TaskInfo:
        """The task hash, decoded."""
        return self._run(p.info(self.keys, task_id))

    def kill_all(self) -> int:
        """Ask every worker of this prefix to kill what it runs; returns how many workers heard it."""
        return self._run(p.kill_all(self.keys))

    def close(self) -> None:
        self._subscriber.close()
        if self._redis is not None:
            self._redis.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Task:
    """A submitted task. Every method reads Redis; nothing is cached."""

    def __init__(self, client: Client, task_id: str, queue: str | None = None) -> None:
        self.client = client
        self.task_id = task_id
        self.queue = queue
        self.key = client.keys.task(task_id)

    def __repr__(self) -> str:
        return f"<Task {self.task_id}>"

    def wait(self, timeout: float | None = None) -> TaskInfo:
        """Block until the task is finished (TaskTimeout after ``timeout`` seconds); returns its hash."""
        return self.client._run(p.wait(self.client.keys, self.task_id, timeout))

    def wait_result(self, timeout: float | None = None) -> Any:
        """The task's return value; raises TaskFailed (message: error-reason) or TaskTimeout."""
        return self.wait(timeout).outcome()

    def poll(self) -> bool:
        """True once the task is finished."""
        return self.client._run(p.poll(self.client.keys, self.task_id))

    def info(self) -> TaskInfo:
        """The whole task hash now: state, timestamps, result."""
        return self.client._run(p.info(self.client.keys, self.task_id))

    def cancel(self) -> str:
        """Cancel it if pending, kill it if executing. Returns 'cancelled', 'killing' or 'finished'."""
        return self.client._run(p.cancel(self.client.keys, self.task_id, self.queue, self.client.queue))
