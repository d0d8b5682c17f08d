"""Who waits for which task key: the bookkeeping both subscribers share (no I/O, any event type).

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
from typing import Generic, Protocol, TypeVar

import redis

log = logging.getLogger("doshit.client")

RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)
"""Seconds a subscriber waits before each reconnect attempt; the last one repeats."""


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

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.failures = 0
        self.error: BaseException | None = None
        self._attempt = 0

    def subscribed(self) -> None:
        self._attempt = 0

    def failed(self, exc: BaseException) -> float:
        """Record a failed attempt; returns how long to wait before the next one."""
        self.error = exc
        self.failures += 1
        delay = RECONNECT_DELAYS[min(self._attempt, len(RECONNECT_DELAYS) - 1)]
        self._attempt += 1
        log.warning("results subscription lost (%s); reconnecting in %.1f s", exc, delay)
        return delay

    def problem(self, failures_before: int, deadline: float) -> Exception | None:
        """What a caller waiting for the subscription must raise now: the failure of the attempt it
        waited for, or the timeout; None to keep waiting."""
        if self.failures > failures_before:
            if isinstance(self.error, redis.RedisError):
                return self.error
            return redis.ConnectionError(f"could not subscribe to {self.channel}: {self.error}")
        if time.monotonic() >= deadline:
            return redis.ConnectionError(f"could not subscribe to {self.channel}: timed out")
        return None
