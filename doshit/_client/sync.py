"""The synchronous client: a thin driver of the flows in doshit/_core/flows.py.

One subscriber thread per client listens on the results channel and wakes the threads waiting for a
task; waiting itself never misses a result because every flow re-reads the hash after watching.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Generic, TypeVar

import redis

from .._core import flows as f
from .._core.config import Settings, resolve
from .._core.schema import MAX_ARGS_BYTES
from .._core.taskinfo import TaskInfo
from .._errors import ConfigError
from .._redis import SUBSCRIPTION_ERRORS, connect, run_script
from .watch import FlowRun, FlowWatches, SubscriptionState, thread_safe_table

T = TypeVar("T")
log = logging.getLogger("doshit.client")

CLIENT_NAME = "doshit-client"
"""The name a client's connections give themselves (CLIENT LIST shows it; workers are doshit-worker:ID)."""
MAX_CONNECTIONS = 10
"""Default number of command connections an AsyncClient opens at most (the sync Client uses one);
the results subscription has one more of its own."""


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
        max_args_bytes: int = MAX_ARGS_BYTES,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.settings = settings or resolve(url, prefix=prefix, queue=queue, virtual_memory_limit=virtual_memory_limit)
        for name, value in (("max_args_bytes", max_args_bytes), ("max_connections", max_connections)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        self.max_args_bytes = max_args_bytes
        self.max_connections = max_connections
        self._checked_queues: set[str] = set()
        self.keys = self.settings.keys
        self.prefix = self.settings.prefix
        self.queue = self.settings.queue
        self._open()

    def _open(self) -> None:
        """Set up the driver's connections (they connect at first use)."""
        raise NotImplementedError

    def _options(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], f.SubmitOptions, str]:
        """Task arguments, options with the client's defaults, and the queue."""
        args, options = f.split_options(dict(kwargs))
        if options.virtual_memory_limit is None and self.settings.virtual_memory_limit:
            options = replace(options, virtual_memory_limit=self.settings.virtual_memory_limit)
        return args, options, options.queue or self.queue

    def _submit_flow(self, function: str, kwargs: dict[str, Any]) -> tuple[f.Flow[str], str]:
        """The submit flow and the queue it pushes on."""
        args, options, queue = self._options(kwargs)
        return f.submit(self.keys, queue, function, args, options, self.max_args_bytes), queue

    def _submit_many_flow(
        self, function: str, arguments: Iterable[Mapping[str, Any]], kwargs: dict[str, Any]
    ) -> tuple[f.Flow[list[str]], str]:
        """The submit_many flow and the queue it pushes on; ``kwargs`` holds options only."""
        args, options, queue = self._options(kwargs)
        if args:
            raise TypeError(
                f"submit_many takes only _-options besides the list, not {', '.join(sorted(args))} "
                "(each task's arguments go in its mapping)"
            )
        return f.submit_many(self.keys, queue, function, arguments, options, self.max_args_bytes), queue

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.settings.describe()} prefix={self.prefix} queue={self.queue}>"

    def _unchecked(self, queue: str | None, timeout: float | None) -> str | None:
        """The queue to check for a live worker before a wait without timeout: once per queue."""
        if timeout is not None or queue is None or queue in self._checked_queues:
            return None
        self._checked_queues.add(queue)
        return queue


def warn_unserved(queue: str) -> None:
    log.warning(
        "no live worker serves queue %r: a wait without a timeout waits until one does (legacy workers, "
        "which do not register, are not seen)", queue,
    )  # fmt: skip


class _Subscriber:
    """The client's one subscription to the results channel, in a daemon thread."""

    def __init__(self, connect: Callable[[], redis.Redis], channel: str) -> None:
        self._connect = connect
        self._channel = channel
        self._lock = threading.Lock()
        self.watches = thread_safe_table()
        self.state = SubscriptionState(channel, self.watches)
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
                    if self.state.heard(message):
                        self._ready.set()
                        self._changed.set()
            except SUBSCRIPTION_ERRORS as exc:
                self._ready.clear()
                if self._closed:
                    return
                delay = self.state.failed(exc)
                self._changed.set()
                if delay is None:
                    return
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

    def _open(self) -> None:
        self._redis: redis.Redis | None = None
        self._redis_lock = threading.Lock()
        self._subscriber = _Subscriber(
            lambda: connect(self.settings, retries=0, client_name=CLIENT_NAME), self.keys.results
        )

    @property
    def redis(self) -> redis.Redis:
        """The client's connection: one, not a pool (redis-py locks it per command, and a pool
        checkout on every call costs more than the call), made at first use so that a Client can be
        created before Redis is up."""
        if self._redis is None:
            with self._redis_lock:
                if self._redis is None:
                    self._redis = connect(self.settings, single_connection_client=True, client_name=CLIENT_NAME)
        return self._redis

    def _do(self, step: f.Step, watches: FlowWatches[threading.Event]) -> Any:
        """The I/O of one step of a flow; returns its reply."""
        if isinstance(step, f.Call):
            return self.redis.execute_command(*step.args)
        if isinstance(step, f.RunScript):
            return run_script(self.redis, step.call, self.settings.durability)
        if isinstance(step, f.Subscribe):
            return self._subscriber.ensure()
        if isinstance(step, f.Watch):
            return watches.watch(step.key, step.keep)
        event = watches.events[step.key]
        heard = event.wait(step.timeout)
        event.clear()
        return heard

    def _run(self, flow: f.Flow[T]) -> T:
        with FlowRun(flow, self._subscriber.watches, threading.Event) as run:
            step = run.send(None)
            while step is not None:
                try:
                    reply = self._do(step, run.watches)
                except (redis.RedisError, OSError) as exc:
                    step = run.failed(exc)
                    continue
                step = run.send(reply)
            return run.result()

    def submit(self, function: str, /, **kwargs: Any) -> Task:
        """Queue a call of ``function`` with named arguments; returns at once.

        Options (keyword, underscore-prefixed so they never clash with task arguments): ``_queue``,
        ``_task_id`` (refused with TaskExists if taken), ``_username``, ``_virtual_memory_limit``
        (bytes), ``_result_ttl`` (seconds to keep the finished hash; 0 keeps it), ``_retries`` (runs
        allowed after a failure), ``_timeout`` (seconds it may run), ``_delay`` (seconds from now) or
        ``_at`` (a datetime) to run it later.
        """
        flow, queue = self._submit_flow(function, kwargs)
        task = Task(self, self._run(flow), queue)
        weakref.finalize(task, self._subscriber.watches.release, task.key)
        return task

    def submit_many(self, function: str, arguments: Iterable[Mapping[str, Any]], /, **options: Any) -> list[Task]:
        """Queue many calls of ``function`` at once, one mapping of named arguments per task, in one
        atomic script call: every task is written, or none (TaskExists when an id is taken). Up to
        SUBMIT_MANY_MAX (10,000) tasks per call. ``options`` are submit()'s ``_``-options for all of
        them; a mapping may hold its own (``_task_id``, ``_delay``, ``_meta``, ...; not ``_queue``).
        Workers take them in the order given."""
        flow, queue = self._submit_many_flow(function, arguments, options)
        return [Task(self, task_id, queue) for task_id in self._run(flow)]

    def get(self, task_id: str) -> Task:
        """A handle to an existing task; raises TaskNotFound if there is no such hash."""
        found = self._run(f.info(self.keys, task_id))
        return Task(self, task_id, found.queue)

    def info(self, task_id: str) -> TaskInfo:
        """The task hash, decoded."""
        return self._run(f.info(self.keys, task_id))

    def kill_all(self) -> int:
        """Ask every worker of this prefix to kill what it runs; returns how many workers heard it."""
        return self._run(f.kill_all(self.keys))

    def requeue(self, task_id: str) -> str:
        """Run a failed task again: its failure joins the history in ``errors``, its result and attempt
        count go, and it is pushed on its queue. Returns 'requeued', 'not_failed' or 'missing'."""
        return self._run(f.requeue(self.keys, task_id, self.queue))

    def close(self) -> None:
        self._subscriber.close()
        if self._redis is not None:
            self._redis.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


C = TypeVar("C", bound=ClientBase)


class TaskHandle(Generic[C]):
    """A task of a client: its id, the queue it was pushed on (None: read it when needed), its key."""

    def __init__(self, client: C, task_id: str, queue: str | None = None) -> None:
        self.client = client
        self.task_id = task_id
        self.queue = queue
        self.key = client.keys.task(task_id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.task_id}>"


class Task(TaskHandle[Client]):
    """A submitted task. Every method reads Redis; nothing is cached."""

    def wait(self, timeout: float | None = None) -> TaskInfo:
        """Block until the task is finished (TaskTimeout after ``timeout`` seconds); returns its hash."""
        queue = self.client._unchecked(self.queue, timeout)
        if queue is not None and not self.client._run(f.served(self.client.keys, queue)):
            warn_unserved(queue)
        return self.client._run(f.wait(self.client.keys, self.task_id, timeout))

    def wait_result(self, timeout: float | None = None) -> Any:
        """The task's return value; raises TaskFailed (message: error-reason) or TaskTimeout."""
        return self.wait(timeout).outcome()

    def poll(self) -> bool:
        """True once the task is finished."""
        return self.client._run(f.poll(self.client.keys, self.task_id))

    def info(self) -> TaskInfo:
        """The whole task hash now: state, timestamps, result."""
        return self.client._run(f.info(self.client.keys, self.task_id))

    def cancel(self) -> str:
        """Cancel it if pending or scheduled, kill it if executing. Returns 'cancelled', 'killing',
        'finished' or 'missing'."""
        return self.client._run(f.cancel(self.client.keys, self.task_id, self.client.queue))

    def requeue(self) -> str:
        """Run it again if it failed. Returns 'requeued', 'not_failed' or 'missing'."""
        return self.client.requeue(self.task_id)
