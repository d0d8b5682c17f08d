"""Who waits for which task key, and the flows being driven: the bookkeeping both clients share (no
I/O, any event type).

A flow watches a key for as long as it runs. A submit also *keeps* a watch on its task, registered
before the push, so that a later wait needs no first re-read: the kept event is set if the result was
announced meanwhile. A kept watch ends when the wait sees the result or the task handle goes away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Generic, Protocol, TypeVar

import redis

from .._core.backoff import Backoff
from .._core.flows import Disconnected, Flow, Step
from .._core.schema import RECONNECT_DELAYS
from .._errors import ConfigError, DecodeError
from .._redis import config_problem, unavailable

log = logging.getLogger("doshit.client")


class Settable(Protocol):
    def set(self) -> None: ...

    def is_set(self) -> bool: ...


E = TypeVar("E", bound=Settable)


class WatchTable(Generic[E]):
    def __init__(self, lock: AbstractContextManager[object] | None = None) -> None:
        self._lock: AbstractContextManager[object] = lock or nullcontext()
        self._events: dict[str, list[E]] = {}
        self._kept: dict[str, E] = {}

    def add(self, key: str, event: E, *, keep: bool = False) -> E:
        with self._lock:
            self._events.setdefault(key, []).append(event)
            if keep:
                self._kept[key] = event
        return event

    def kept(self, key: str) -> E | None:
        return self._kept.get(key)

    def remove(self, key: str, event: E) -> None:
        with self._lock:
            if self._kept.get(key) is event:
                del self._kept[key]
            events = self._events.get(key, [])
            if event in events:
                events.remove(event)
            if not events:
                self._events.pop(key, None)

    def release(self, key: str) -> None:
        """End the kept watch of a key, if any."""
        event = self._kept.get(key)
        if event is not None:
            self.remove(key, event)

    def wake(self, key: str | None) -> None:
        """Set the events of one key, or of every key (after a reconnect: anything may have finished)."""
        with self._lock:
            events = [e for k, es in self._events.items() if key is None or k == key for e in es]
        for event in events:
            event.set()

    def __len__(self) -> int:
        return len(self._events)


class FlowWatches(Generic[E]):
    """The watches of one running flow, released when it ends."""

    def __init__(self, table: WatchTable[E], new_event: Callable[[], E]) -> None:
        self.table = table
        self.new_event = new_event
        self.events: dict[str, E] = {}
        self.own: list[str] = []
        self.borrowed: list[str] = []
        self.kept: list[str] = []

    def watch(self, key: str, keep: bool) -> bool:
        """Register interest in a key; True when the flow must re-read the hash before waiting."""
        event = None if keep else self.table.kept(key)
        if event is not None:
            self.borrowed.append(key)
            self.events[key] = event
            return event.is_set()
        self.events[key] = self.table.add(key, self.new_event(), keep=keep)
        (self.kept if keep else self.own).append(key)
        return True

    def end(self, completed: bool) -> None:
        """Drop this flow's own watches; a completed flow also ends the kept watches it used (the
        result was delivered), a failed one the kept watches it made (nothing was submitted)."""
        for key in self.own:
            self.table.remove(key, self.events[key])
        for key in self.borrowed if completed else self.kept:
            self.table.release(key)


def thread_safe_table() -> WatchTable[threading.Event]:
    return WatchTable(threading.Lock())


class SubscriptionState:
    """How a client's results subscription is doing, for both subscribers (no I/O)."""

    def __init__(self, channel: str, table: WatchTable[Any]) -> None:
        self.channel = channel
        self.table = table
        self.failures = 0
        """Failed attempts since the client started (a waiter compares counts to see a new one)."""
        self.error: BaseException | None = None
        self.fatal: ConfigError | None = None
        """Set when Redis refused the subscription for good (access, database): no retry cures it."""
        self._backoff = Backoff(RECONNECT_DELAYS)

    def heard(self, message: dict[str, Any]) -> bool:
        """Act on one pubsub message; True when it confirms the subscription."""
        if message["type"] == "subscribe":
            self._backoff.reset()
            self.table.wake(None)  # anything may have finished while we were not listening
            return True
        if message["type"] == "message":
            self.table.wake(message["data"])
        return False

    def failed(self, exc: BaseException) -> float | None:
        """Record a failed attempt; returns how long to wait before the next one, or None when no
        retry can help (then every waiter gets the ConfigError)."""
        problem = config_problem(exc)
        if problem is not None:
            self.fatal = ConfigError(problem)
            log.error("results subscription refused: %s", problem)
            return None
        self.error = exc
        self.failures += 1
        delay = self._backoff.failed()
        log.warning("results subscription lost (%s); reconnecting in %.1f s", exc, delay)
        return delay

    def problem(self, failures_before: int, deadline: float) -> Exception | None:
        """What a caller waiting for the subscription must raise now: the failure of the attempt it
        waited for, or the timeout; None to keep waiting."""
        if self.fatal is not None:
            return self.fatal
        if self.failures > failures_before:
            if isinstance(self.error, redis.RedisError):
                return self.error
            return redis.ConnectionError(f"could not subscribe to {self.channel}: {self.error}")
        if time.monotonic() >= deadline:
            return redis.ConnectionError(f"could not subscribe to {self.channel}: timed out")
        return None


T = TypeVar("T")


class FlowRun(Generic[T, E]):
    """One flow being driven: replies go in, steps come out, and its watches end with it.

    A driver (the sync or the async client) does the I/O of each step::

        with FlowRun(flow, table, Event) as run:
            step = run.send(None)
            while step is not None:
                try:
                    step = run.send(do(step, run.watches))
                except (redis.RedisError, OSError) as exc:
                    step = run.failed(exc)
            return run.result()
    """

    def __init__(self, flow: Flow[T], table: WatchTable[E], new_event: Callable[[], E]) -> None:
        self.flow = flow
        self.watches = FlowWatches(table, new_event)
        self._done = False
        self._value: T | None = None

    def send(self, reply: Any) -> Step | None:
        """The flow's next step, given the reply to the last one; None once the flow has returned."""
        try:
            return self.flow.send(reply)
        except StopIteration as stop:
            self._done = True
            self._value = stop.value
            return None

    def failed(self, exc: BaseException) -> Step | None:
        """The next step after one Redis could not take. Unavailable (unreachable, restarting): the
        flow hears it and may ride it out; a configuration Redis refuses: ConfigError; else ``exc``."""
        if not unavailable(exc):
            problem = config_problem(exc)
            if problem is not None:
                raise ConfigError(problem) from exc
            if isinstance(exc, redis.ResponseError) and str(exc).startswith("WRONGTYPE"):
                raise DecodeError(f"not a task hash: {exc}") from None
            raise exc
        try:
            return self.flow.throw(Disconnected(exc))
        except StopIteration as stop:
            self._done = True
            self._value = stop.value
            return None
        except Disconnected as passed:
            raise passed.cause from None

    def result(self) -> T:
        assert self._done, "the flow has not returned"
        return self._value  # type: ignore[return-value]

    def __enter__(self) -> FlowRun[T, E]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flow.close()
        self.watches.end(self._done)
