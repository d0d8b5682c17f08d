"""The edge where doshit meets redis-py: connections made from Settings, and the one script runner.

Scripts run by their SHA (EVALSHA); a Redis that does not know one yet (NOSCRIPT: restarted, flushed,
or new) gets it loaded and the call is made again. The sync client and both asyncio drivers (the
AsyncClient and the worker) share this module, and every reply comes back read by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio

from ._core.config import Settings
from ._core.scripts import Reply, ScriptCall, parse_reply

CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError)
"""Errors that mean Redis could not be reached (as opposed to a command Redis refused)."""

SUBSCRIPTION_ERRORS = (*CONNECTION_ERRORS, OSError, ValueError)
"""Errors that end a subscription's connection (ValueError: its socket was closed under it)."""

# Strings in, strings out. Bytes that are not UTF-8 survive a round trip instead of raising.
_CONNECTION_DEFAULTS: dict[str, Any] = {"decode_responses": True, "encoding_errors": "surrogateescape"}


def _kwargs(settings: Settings, extra: dict[str, Any]) -> dict[str, Any]:
    return {**settings.redis_kwargs, **_CONNECTION_DEFAULTS, **extra}


def connect(settings: Settings, **extra: Any) -> redis.Redis:
    """A sync redis-py client for these settings (it connects at its first command)."""
    if settings.url is not None:
        return redis.Redis.from_url(settings.url, **_kwargs(settings, extra))
    return redis.Redis(**_kwargs(settings, extra))


def connect_async(settings: Settings, **extra: Any) -> redis.asyncio.Redis:
    """An asyncio redis-py client for these settings (it connects at its first command)."""
    if settings.url is not None:
        return redis.asyncio.Redis.from_url(settings.url, **_kwargs(settings, extra))
    return redis.asyncio.Redis(**_kwargs(settings, extra))


def _evalsha(call: ScriptCall) -> tuple[Any, ...]:
    return ("EVALSHA", call.spec.sha, len(call.keys), *call.keys, *call.argv)


def run_script(conn: redis.Redis, call: ScriptCall) -> Reply:
    """Run one script call and read its reply."""
    try:
        raw = conn.execute_command(*_evalsha(call))
    except redis.exceptions.NoScriptError:
        conn.script_load(call.spec.source)
        raw = conn.execute_command(*_evalsha(call))
    return parse_reply(call.name, raw)


async def run_scripts(conn: redis.asyncio.Redis, calls: Sequence[ScriptCall]) -> list[Reply]:
    """Run script calls in one pipeline (one call: no pipeline, which costs more than the command) and
    read their replies. Raises the first error a call got. (redis-py's own script pipelining costs
    an extra SCRIPT EXISTS round trip per pipeline; here a script is loaded only on NOSCRIPT.)"""
    raws: list[Any]
    if len(calls) == 1:
        try:
            raws = [await conn.execute_command(*_evalsha(calls[0]))]
        except redis.exceptions.NoScriptError as exc:
            raws = [exc]
    else:
        pipe = conn.pipeline(transaction=False)
        for call in calls:
            pipe.execute_command(*_evalsha(call))
        raws = list(await pipe.execute(raise_on_error=False))
    redo = [i for i, raw in enumerate(raws) if isinstance(raw, redis.exceptions.NoScriptError)]
    for source in dict.fromkeys(calls[i].spec.source for i in redo):
        await conn.script_load(source)
    if redo:
        for i, reply in zip(redo, await run_scripts(conn, [calls[i] for i in redo]), strict=True):
            raws[i] = reply
    for raw in raws:
        if isinstance(raw, Exception):
            raise raw
    return [
        raw if isinstance(raw, Reply) else parse_reply(call.name, raw) for call, raw in zip(calls, raws, strict=True)
    ]
