"""What a worker does beside taking tasks, and how every loop of it meets Redis trouble.

- ``Retry``, ``retrying`` and ``every``: the one retry policy of the worker. While Redis is
  unavailable (unreachable, loading, out of memory, ...), an operation is retried after 0.5, 1, 2, 4, 8
  and then every 10 s, each retry logged, and the recovery too. A wait between retries ends early
  when the worker is told to stop (``Stopped``). Anything else Redis answers is not retried.
- ``Registration`` and ``Heartbeat``: the worker hash, written at start, renewed from a thread of its
  own (so a task that blocks the event loop cannot stop it), deleted at the end.
- ``Commands``: the command channel listener (kill one task, kill all), which also reads the kill
  marks of the running tasks each time it (re)subscribes, so a kill sent while it was not listening
  is not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import redis
import redis.asyncio

from .._core import codec
from .._core.backoff import Backoff
from .._core.config import Settings
from .._core.keys import Keys, KillAll, KillTask, Scheduled
from .._core.schema import TaskField, WorkerField
from .._core.stats import Stats
from .._core.worker_rules import WorkerInfo, count_fields
from .._redis import connect, note_disruption, unavailable

log = logging.getLogger("doshit.worker")
T = TypeVar("T")

RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 10.0)
"""Seconds to wait before each retry while Redis is unavailable; the last one repeats."""


class Stopped(Exception):
    """The worker was told to stop while it waited to try again."""


class Retry:
    """How long to wait between attempts while Redis is unavailable; says so in the log."""

    def __init__(self, doing: str) -> None:
        self.doing = doing
        self._backoff = Backoff(RETRY_DELAYS)

    def failed(self, exc: BaseException) -> float:
        """Count a failed attempt; returns the seconds to wait before the next one."""
        delay = self._backoff.failed()
        note_disruption()
        log.warning("Redis unreachable while %s (%s); retrying in %.1f s", self.doing, exc, delay)
        return delay

    def succeeded(self) -> None:
        if self._backoff.reset():
            log.info("Redis reachable again; %s", self.doing)


async def pause(seconds: float, stopping: asyncio.Event | None) -> None:
    """Sleep; with ``stopping``, raise Stopped as soon as it is set instead."""
    if stopping is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
    if stopping.is_set():
        raise Stopped


async def retrying(doing: str, operation: Callable[[], Awaitable[T]], stopping: asyncio.Event | None = None) -> T:
    """Run ``operation`` until Redis takes it: for work that must not be lost. With ``stopping``,
    give up (Stopped) when the worker is told to stop."""
    retry = Retry(doing)
    while True:
        try:
            result = await operation()
        except (redis.RedisError, OSError) as exc:
            if not unavailable(exc):
                raise
            await pause(retry.failed(exc), stopping)
            continue
        retry.succeeded()
        return result


async def every(seconds: float, doing: str, action: Callable[[Retry], Awaitable[object]]) -> None:
    """Forever: wait ``seconds``, run ``action``. While Redis is unavailable the wait is the Retry's
    instead; any other error is logged and the loop goes on. A long-lived action (a subscription)
    reports its own success to the Retry it gets."""
    retry = Retry(doing)
    delay = seconds
    while True:
        await asyncio.sleep(delay)
        try:
            await action(retry)
        except (redis.RedisError, OSError) as exc:
            if unavailable(exc):
                delay = retry.failed(exc)
                continue
            log.error("error while %s: %s", doing, exc)
            delay = max(seconds, RETRY_DELAYS[-1])
            continue
        except Exception:  # a fault of ours must not end the upkeep silently
            log.exception("error while %s", doing)
            delay = max(seconds, RETRY_DELAYS[-1])
            continue
        retry.succeeded()
        delay = seconds


def ipaddress() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return ""


def this_host() -> tuple[str, str, int]:
    """Host name, address and pid of this worker process."""
    return socket.gethostname(), ipaddress(), os.getpid()


PRUNE_AFTER = 3600
"""Seconds after its hash expired that a dead worker's id is taken off the workers index."""


def _registration(pipe: Any, keys: Keys, info: WorkerInfo, whole: bool, done: Mapping[str, int]) -> None:
    """Queue the commands that write the worker hash (``whole``, or only its heartbeat and task
    counters), renew its expiry and its entry in the workers index."""
    now = codec.now_timestamp()
    key = keys.worker(info.worker_id)
    counts = count_fields(done)
    if whole:
        pipe.hset(key, mapping={**info.fields(now), **counts})
    else:
        pipe.hset(key, mapping={WorkerField.HEARTBEAT: now, **counts})
    pipe.expire(key, info.expiry)
    pipe.zadd(keys.workers, {info.worker_id: time.time() + info.expiry})


def _prune(pipe: Any, keys: Keys) -> None:
    """Queue the command that takes off the workers index the workers whose hash expired long ago."""
    pipe.zremrangebyscore(keys.workers, "-inf", time.time() - PRUNE_AFTER)


class Registration:
    """The worker hash and the worker's entry in the workers index: written at start, deleted at the
    end (the Heartbeat renews them)."""

    def __init__(self, conn: redis.asyncio.Redis, keys: Keys, info: WorkerInfo) -> None:
        self.conn = conn
        self.keys = keys
        self.key = keys.worker(info.worker_id)
        self.info = info

    async def register(self) -> None:
        """Also prunes the index as each heartbeat does, so that every command the heartbeat sends is
        tried once at start: one an ACL refuses is a configuration error then, not a silent expiry later."""
        pipe = self.conn.pipeline(transaction=True)
        _registration(pipe, self.keys, self.info, whole=True, done={})
        _prune(pipe, self.keys)
        await pipe.execute()

    async def unregister(self) -> None:
        pipe = self.conn.pipeline(transaction=True)
        pipe.delete(self.key)
        pipe.zrem(self.keys.workers, self.info.worker_id)
        try:
            await asyncio.wait_for(pipe.execute(), 2)
        except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
            log.warning("could not delete worker hash %s (%s); it expires by itself", self.key, exc or "no answer")


class Heartbeat:
    """Renews the worker hash and its expiry every interval, from a thread with a connection of its
    own: an ``async def`` task that blocks the event loop, or a loop busy with thousands of tasks,
    cannot hold it back, so a worker hash that expired means a worker that is gone."""

    def __init__(
        self, settings: Settings, info: WorkerInfo, done: Mapping[str, int] | None = None, stats: Stats | None = None
    ) -> None:
        timeout = max(1.0, info.heartbeat_interval)
        self.done: Mapping[str, int] = {} if done is None else done
        """The worker's task counts (read from this thread: each beat writes a copy)."""
        self.stats = stats
        """What the worker counted for metrics: each beat adds it to the stats hashes."""
        self.conn = connect(settings, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.keys = settings.keys
        self.info = info
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="doshit-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def beat(self) -> None:
        done = dict(self.done)
        with self.conn.pipeline(transaction=True) as pipe:
            _registration(pipe, self.keys, self.info, whole=False, done=done)
            if self.stats is not None:
                pipe.hset(
                    self.keys.worker(self.info.worker_id), WorkerField.BUSY_SECONDS, f"{self.stats.busy_seconds:.3f}"
                )
            _prune(pipe, self.keys)
            created, *_ = pipe.execute()
        if created:  # the hash was gone (expired while Redis was away, or flushed): write it whole
            with self.conn.pipeline(transaction=True) as pipe:
                _registration(pipe, self.keys, self.info, whole=True, done=done)
                pipe.execute()
        self.flush_stats()

    def flush_stats(self) -> None:
        """Add what the worker counted since the last flush to the stats hashes (kept for the next
        flush when Redis does not take it)."""
        if self.stats is None:
            return
        delta = self.stats.take()
        if not delta:
            return
        try:
            with self.conn.pipeline(transaction=False) as pipe:
                for name, count in delta.counts.items():
                    pipe.hincrby(self.keys.stats, name, count)
                for name, count in delta.durations.items():
                    pipe.hincrby(self.keys.stats_durations, name, count)
                for name, seconds in delta.seconds.items():
                    pipe.hincrbyfloat(self.keys.stats_durations, name, round(seconds, 6))
                pipe.execute()
        except BaseException:
            self.stats.give_back(delta)
            raise

    def _run(self) -> None:
        retry = Retry("renewing the worker hash")
        delay = self.info.heartbeat_interval
        while not self._stop.wait(delay):
            try:
                self.beat()
            except (redis.RedisError, OSError) as exc:
                if unavailable(exc):
                    delay = min(retry.failed(exc), self.info.heartbeat_interval)
                else:  # refused (an ACL changed under us): say so; the worker hash expires meanwhile
                    log.error("error while renewing the worker hash: %s", exc)
                    delay = self.info.heartbeat_interval
                continue
            except Exception:  # a fault of ours must not stop the heartbeat silently
                log.exception("error while renewing the worker hash")
            retry.succeeded()
            delay = self.info.heartbeat_interval

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():  # (a beat waiting for a Redis that does not answer is left to its timeout)
            self._thread.join(timeout=1)
        if not self._thread.is_alive():
            try:  # the counts of the last moments
                self.flush_stats()
            except (redis.RedisError, OSError) as exc:
                log.warning("could not write the last task counts: %s", exc)
        self.conn.close()


class Commands:
    """Listens on the command channel and hands each command it knows to ``obey``; each time it
    (re)subscribes, it first obeys the kill marks of the tasks this worker runs (``running``)."""

    def __init__(
        self,
        conn: redis.asyncio.Redis,
        keys: Keys,
        obey: Callable[[KillTask | KillAll | Scheduled], None],
        running: Callable[[], list[str]],
    ) -> None:
        self.conn = conn
        self.keys = keys
        self.obey = obey
        self.running = running

    async def listen(self, retry: Retry) -> None:
        pubsub = self.conn.pubsub()
        try:
            await pubsub.subscribe(self.keys.cmd)
            retry.succeeded()
            async for message in pubsub.listen():
                if message["type"] == "message":
                    self.heard(message["data"])
                elif message["type"] == "subscribe":  # also after redis-py reconnected by itself
                    await self.missed_kills()
        finally:
            await pubsub.aclose()

    async def missed_kills(self) -> None:
        """Kill the running tasks whose hash says a kill was requested (while we were not listening)."""
        task_ids = self.running()
        if not task_ids:
            return
        pipe = self.conn.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hget(self.keys.task(task_id), TaskField.KILL_REQUESTED)
        for task_id, mark in zip(task_ids, await pipe.execute(raise_on_error=False), strict=True):
            if isinstance(mark, str):
                log.info("task %s: a kill was requested at %s while commands were not heard", task_id, mark)
                self.obey(KillTask(task_id))

    def heard(self, text: str) -> None:
        command = self.keys.read_command(text)
        if command is None:
            log.debug("ignoring command %r", text[:200])
        else:
            self.obey(command)
