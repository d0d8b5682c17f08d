"""The server-sent events stream of ``GET /events``.

Each client gets its own subscription to the results channel (``{prefix}:results``; every message
is a finished task's hash key) and, for each message, an ``event: task`` with what the task hash says
then. Every COUNTS_EVERY seconds an ``event: counts`` carries the queues' counts (as ``GET /queues``)
and the number of live workers; a comment line every KEEPALIVE_EVERY seconds keeps proxies from
closing an idle stream. The stream ends when the client goes away (Starlette cancels it), when the
server shuts down (``Shutdown``), or when Redis fails (an ``event: problem`` first; the browser's
EventSource connects again after ``retry``).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.to_thread
import redis
import redis.asyncio

from .._core.config import Settings
from .._core.keys import valid_task_id
from .._core.schema import TaskField
from .._redis import connect_async
from .views import Shutdown, jsonable

COUNTS_EVERY = 2.0
"""Seconds between two counts events."""
KEEPALIVE_EVERY = 15.0
"""Seconds between two keep-alive comments."""
RETRY_MS = 2000
"""What the stream tells EventSource to wait before connecting again."""
POLL = 0.5
"""Seconds a wait for a message lasts at most: how soon a shutdown is noticed."""
EVENT_FIELDS = (
    TaskField.FUNCTION,
    TaskField.QUEUE,
    TaskField.STATE,
    TaskField.RESULT,
    TaskField.ERROR_REASON,
)


def frame(event: str, data: Any) -> str:
    """One event in the text/event-stream format (the data is one line of JSON)."""
    text = json.dumps(jsonable(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return f"event: {event}\ndata: {text}\n\n"


def task_event(task_id: str, values: list[Any]) -> dict[str, Any]:
    function, queue, state, result, reason = values
    return {"id": task_id, "function": function, "queue": queue, "state": state, "result": result,
            "error_reason": reason}  # fmt: skip


async def stream(
    settings: Settings,
    counts: Callable[[], dict[str, Any]],
    shutdown: Shutdown,
    *,
    counts_every: float = COUNTS_EVERY,
    keepalive_every: float = KEEPALIVE_EVERY,
) -> AsyncIterator[str]:
    """The events of one client. ``counts`` is called in a worker thread (it reads Redis, sync)."""
    keys = settings.keys
    conn = connect_async(settings, retries=0, client_name="doshit-web-events")
    pubsub = conn.pubsub(ignore_subscribe_messages=True)
    try:
        yield f"retry: {RETRY_MS}\n\n"
        try:
            await pubsub.subscribe(keys.results)
            next_counts = 0.0
            next_keepalive = time.monotonic() + keepalive_every
            while not shutdown.is_set:
                now = time.monotonic()
                if now >= next_counts:
                    next_counts = now + counts_every
                    yield frame("counts", await anyio.to_thread.run_sync(counts))
                if now >= next_keepalive:
                    next_keepalive = now + keepalive_every
                    yield ": keep-alive\n\n"
                wait = max(0.0, min(POLL, next_counts - time.monotonic(), next_keepalive - time.monotonic()))
                message = await pubsub.get_message(timeout=wait)
                if message is None or message.get("type") != "message":
                    continue
                task_id = keys.task_id(message.get("data") or "")
                if task_id is None or not valid_task_id(task_id):
                    continue
                try:
                    values = await conn.execute_command("HMGET", keys.task(task_id), *EVENT_FIELDS)
                except redis.ResponseError:
                    continue  # not a hash: nothing to tell of it
                yield frame("task", task_event(task_id, list(values)))
        except (redis.RedisError, OSError) as exc:
            yield frame("problem", {"error": f"Redis: {type(exc).__name__}: {exc}"})
    finally:
        with anyio.CancelScope(shield=True):
            try:
                await pubsub.aclose()
                await conn.aclose()
            except (redis.RedisError, OSError):
                pass
