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
import redis.asyncio.retry
import redis.backoff
import redis.retry

from ._core.config import Settings
from ._core.scripts import Reply, ScriptCall, parse_reply
from ._errors import DecodeError

CONNECTION_ERRORS = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError)
"""Errors that mean Redis could not be reached (as opposed to a command Redis refused)."""

REFUSED_ACCESS = (
    redis.exceptions.AuthenticationError,
    redis.exceptions.AuthenticationWrongNumberOfArgsError,
    redis.exceptions.AuthorizationError,
    redis.exceptions.NoPermissionError,
)
"""Errors that no retry cures: a wrong password or user, or an ACL that forbids the command."""

_BUSY_STATES = (
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
)
_BUSY_WORDS = ("BUSY", "MASTERDOWN")


def unavailable(exc: BaseException) -> bool:
    """True when Redis cannot take commands right now but may later: unreachable, loading, busy with
    a script, out of memory, a read-only replica after a failover. Work that must not be lost waits
    and tries again; anything else (a refused password, a command Redis rejects) is not retried."""
    if isinstance(exc, REFUSED_ACCESS):
        return False
    if isinstance(exc, (*CONNECTION_ERRORS, *_BUSY_STATES)):
        return True
    return isinstance(exc, redis.ResponseError) and str(exc).startswith(_BUSY_WORDS)


_SCRIPT_REFUSED = ("ACL failure in script", "The user executing the script can't")
"""How Redis words an ACL refusal of a command, key or channel inside a script: a plain error, not
NOPERM (Redis 7.2 and later, then 7.0). A refused EXEC is an ExecAbortError that names NOPERM."""


def config_problem(exc: BaseException) -> str | None:
    """What is wrong with the configuration, when Redis's error says so (else None)."""
    refused = isinstance(exc, REFUSED_ACCESS) or (
        isinstance(exc, redis.ResponseError) and str(exc).startswith(_SCRIPT_REFUSED)
    )
    if refused or (isinstance(exc, redis.exceptions.ExecAbortError) and "NOPERM" in str(exc)):
        return f"Redis refused access: {exc}"
    if isinstance(exc, redis.ResponseError) and "DB index is out of range" in str(exc):
        return "the database number in the Redis URL is out of range for this server (its `databases` setting)"
    return None


SUBSCRIPTION_ERRORS = (redis.RedisError, OSError, ValueError)
"""Errors that end a subscription's connection: Redis unreachable or refusing it (ValueError: its
socket was closed under it)."""

# Strings in, strings out. Bytes that are not UTF-8 survive a round trip instead of raising.
_CONNECTION_DEFAULTS: dict[str, Any] = {"decode_responses": True, "encoding_errors": "surrogateescape"}


RECONNECT_RETRIES = 2
"""How many times redis-py sends a command again on a fresh connection when the one it used was
closed (the server's idle timeout, a restart); beyond that the error reaches doshit's own retries."""


def _kwargs(settings: Settings, extra: dict[str, Any], retry: object) -> dict[str, Any]:
    return {"retry": retry, **settings.redis_kwargs, **_CONNECTION_DEFAULTS, **extra}


def connect(settings: Settings, *, retries: int = RECONNECT_RETRIES, **extra: Any) -> redis.Redis:
    """A sync redis-py client for these settings (it connects at its first command). ``retries=0``
    for a connection whose owner reconnects by itself (a subscription that must notice)."""
    retry = redis.retry.Retry(redis.backoff.ExponentialBackoff(cap=0.5, base=0.05), retries)
    if settings.url is not None:
        return redis.Redis.from_url(settings.url, **_kwargs(settings, extra, retry))
    return redis.Redis(**_kwargs(settings, extra, retry))


def connect_async(
    settings: Settings, *, pool_size: int | None = None, retries: int = RECONNECT_RETRIES, **extra: Any
) -> redis.asyncio.Redis:
    """An asyncio redis-py client for these settings (it connects at its first command). With
    ``pool_size`` it opens at most that many connections, and a command waits for a free one instead
    of failing, however many run at once."""
    retry = redis.asyncio.retry.Retry(redis.backoff.ExponentialBackoff(cap=0.5, base=0.05), retries)
    kwargs = _kwargs(settings, extra, retry)
    if pool_size is None:
        if settings.url is not None:
            return redis.asyncio.Redis.from_url(settings.url, **kwargs)
        return redis.asyncio.Redis(**kwargs)
    kwargs.update(max_connections=pool_size, timeout=None)
    if settings.url is not None:
        pool = redis.asyncio.BlockingConnectionPool.from_url(settings.url, **kwargs)
    else:
        pool = redis.asyncio.BlockingConnectionPool(**kwargs)
    return redis.asyncio.Redis.from_pool(pool)


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
    """Run script calls in one pipeline and read their replies; raises the first error a call got."""
    replies: list[Reply] = []
    for reply in await run_scripts_apart(conn, calls):
        if isinstance(reply, Exception):
            raise reply
        replies.append(reply)
    return replies


async def run_scripts_apart(conn: redis.asyncio.Redis, calls: Sequence[ScriptCall]) -> list[Reply | Exception]:
    """Run script calls in one pipeline (one call: no pipeline, which costs more than the command) and
    read their replies; a call that Redis refused, or whose reply is not one its script lists, gets
    its error in its place, so one call cannot fail the others. Raises when Redis is unavailable
    (then nothing is known of any call) or refuses access. (redis-py's own script pipelining costs an
    extra SCRIPT EXISTS round trip per pipeline; here a script is loaded only on NOSCRIPT.)"""
    raws: list[Any]
    if len(calls) == 1:
        try:
            raws = [await conn.execute_command(*_evalsha(calls[0]))]
        except redis.ResponseError as exc:
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
        for i, again in zip(redo, await run_scripts_apart(conn, [calls[i] for i in redo]), strict=True):
            raws[i] = again
    replies: list[Reply | Exception] = []
    for call, raw in zip(calls, raws, strict=True):
        if isinstance(raw, Exception) and (unavailable(raw) or isinstance(raw, REFUSED_ACCESS)):
            raise raw
        if isinstance(raw, (Reply, Exception)):
            replies.append(raw)
            continue
        try:
            replies.append(parse_reply(call.name, raw))
        except DecodeError as exc:
            replies.append(exc)
    return replies
