"""What a worker does beside taking tasks, and how every loop of it meets Redis trouble.

- ``Retry``, ``retrying`` and ``every``: the one retry policy of the worker. While Redis is
  unreachable, an operation is retried after 0.5, 1, 2, 4, 8 and then every 10 s, each retry logged,
  and the recovery too.
- ``Registration``: the worker hash: written at start, renewed by the heartbeat, deleted at the end.
- ``Commands``: the command channel listener (kill one task, kill all).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio

from .._core import codec
from .._core.backoff import Backoff
from .._core.keys import Keys, KillAll, KillTask
from .._core.schema import WorkerField
from .._core.worker_rules import WorkerInfo
from .._redis import CONNECTION_ERRORS

log = logging.getLogger("doshit.worker")
T = TypeVar("T")

RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 10.0)
"""Seconds to wait before each retry while Redis is unreachable; the last one repeats."""


class Retry:
    """How long to wait between attempts while Redis is unreachable; says so in the log."""

    def __init__(self, doing: str) -> None:
        self.doing = doing
        self._backoff = Backoff(RETRY_DELAYS)

    def failed(self, exc: BaseException) -> float:
        """Count a failed attempt; returns the seconds to wait before the next one."""
        delay = self._backoff.failed()
        log.warning("Redis unreachable while %s (%s); retrying in %.1f s", self.doing, exc, delay)
        return delay

    def succeeded(self) -> None:
        if self._backoff.reset():
            log.info("Redis reachable again; %s", self.doing)


async def retrying(doing: str, operation: Callable[[], Awaitable[T]]) -> T:
    """Run ``operation`` until Redis takes it: for work that must not be lost."""
    retry = Retry(doing)
    while True:
        try:
            result = await operation()
        except CONNECTION_ERRORS as exc:
            await asyncio.sleep(retry.failed(exc))
            continue
        retry.succeeded()
        return result


async def every(seconds: float, doing: str, action: Callable[[Retry], Awaitable[object]]) -> None:
    """Forever: wait ``seconds``, run ``action``. While Redis is unreachable the wait is the Retry's
    instead. A long-lived action (a subscription) reports its own success to the Retry it gets."""
    retry = Retry(doing)
    delay = seconds
    while True:
        await asyncio.sleep(delay)
        try:
            await action(retry)
        except CONNECTION_ERRORS as exc:
            delay = retry.failed(exc)
            continue
        retry.succeeded()
        delay = seconds


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("doshit")
    except PackageNotFoundError:
        return "unknown"


def ipaddress() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return ""


def this_host() -> tuple[str, str, int]:
    """Host name, address and pid of this worker process."""
    return socket.gethostname(), ipaddress(), os.getpid()


class Registration:
    """The worker hash: written whole at start, its heartbeat and expiry renewed, deleted at the end."""

    def __init__(self, conn: redis.asyncio.Redis, key: str, info: WorkerInfo) -> None:
        self.conn = conn
        self.key = key
        self.info = info

    async def register(self) -> None:
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(self.key, mapping=self.info.fields(codec.now_timestamp()))  # type: ignore[arg-type]
        pipe.expire(self.key, self.info.expiry)
        await pipe.execute()

    async def beat(self) -> None:
        pipe = self.conn.pipeline(transaction=True)
        pipe.hset(self.key, WorkerField.HEARTBEAT, codec.now_timestamp())
        pipe.expire(self.key, self.info.expiry)
        created, _ = await pipe.execute()
        if created:  # the hash was gone (expired while Redis was away, or flushed): write it whole
            await self.register()

    async def unregister(self) -> None:
        try:
            await asyncio.wait_for(self.conn.delete(self.key), 5)
        except (*CONNECTION_ERRORS, asyncio.TimeoutError) as exc:
            log.warning("could not delete worker hash %s: %s (it expires by itself)", self.key, exc)


class Commands:
    """Listens on the command channel and hands each command it knows to ``obey``."""

    def __init__(self, conn: redis.asyncio.Redis, keys: Keys, obey: Callable[[KillTask | KillAll], None]) -> None:
        self.conn = conn
        self.keys = keys
        self.obey = obey

    async def listen(self, retry: Retry) -> None:
        pubsub = self.conn.pubsub()
        try:
            await pubsub.subscribe(self.keys.cmd)
            retry.succeeded()
            async for message in pubsub.listen():
                if message["type"] == "message":
                    self.heard(message["data"])
        finally:
            await pubsub.aclose()

    def heard(self, text: str) -> None:
        command = self.keys.read_command(text)
        if command is None:
            log.debug("ignoring command %r", text)
        else:
            self.obey(command)
