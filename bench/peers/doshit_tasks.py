"""doshit's side of bench/peers.py: ``doshit-worker --app doshit_tasks`` (with bench/peers on the path).

Like every system's task in bench/peers/, ``echo`` counts itself on a Redis counter (how bench/peers.py
sees a drain progress) and returns its argument. ``sleep_async`` holds a slot of an inline worker
(``bench/peers.py --scale``: a worker with 1,000 tasks executing).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import redis
import redis.asyncio

from doshit import Registry

URL = os.environ["PEERS_REDIS_URL"]
COUNTER = os.environ.get("PEERS_COUNTER", "peers:done")

registry = Registry()
_counter: redis.Redis | None = None
_async_counter: redis.asyncio.Redis | None = None


@registry.task
def echo(value: Any) -> Any:
    """A plain function: a call in a child process of the process pool."""
    global _counter
    if _counter is None:
        _counter = redis.Redis.from_url(URL)
    _counter.incr(COUNTER)
    return value


@registry.task
async def echo_async(value: Any) -> Any:
    """An ``async def`` function: runs on the worker's event loop in the inline pool."""
    global _async_counter
    if _async_counter is None:
        # A blocking pool: a thousand tasks at once wait for one of its connections (a plain pool
        # raises MaxConnectionsError past 100).
        pool = redis.asyncio.BlockingConnectionPool.from_url(URL, max_connections=64)
        _async_counter = redis.asyncio.Redis(connection_pool=pool)
    await _async_counter.incr(COUNTER)
    return value


@registry.task
async def sleep_async(seconds: float) -> None:
    await asyncio.sleep(seconds)
