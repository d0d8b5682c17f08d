"""Running one task call: look the name up, decode and bind the args, call, encode the result.

Shared by the worker's child processes, its inline pool and Registry.call. Nothing here raises for a
task's own failure: every way a call can go wrong becomes a failed Outcome with a readable reason.
"""

from __future__ import annotations

import asyncio
import inspect
import reprlib
import traceback
from collections.abc import Callable
from typing import Any

from .._core import codec
from .._core.limits import DEFAULT_LIMITS, Limits
from .._core.outcome import Outcome, failed
from .._core.schema import ECHO_CHARS, Reason
from .._core.text import echo
from .._errors import DecodeError, EncodeError, TaskError
from .context import TaskContext
from .registry import Registry


def failure_from(exc: BaseException, retryable: bool = False) -> Outcome:
    """The failure for an exception raised by a task: 'Type: first line of message' plus traceback
    (a TaskError: its own reason and detail)."""
    if isinstance(exc, TaskError):
        detail = exc.detail if exc.detail is not None else "".join(traceback.format_exception(exc))
        return failed(echo(exc.reason), detail, retryable=retryable or exc.retryable)
    message = str(exc).strip().splitlines()
    name = type(exc).__qualname__
    text = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return failed(f"{name}: {message[0]}" if message else name, "".join(text), retryable=retryable)


def prepare(
    registry: Registry, function: str, args: str, limits: Limits, context: TaskContext | None = None
) -> tuple[Callable[..., Any], dict[str, Any]] | Outcome:
    """The function and its checked arguments (with the task context, when it asks for one), or the
    failure that stops the task before it runs."""
    fn = registry.get(function)
    if fn is None:
        known = ", ".join(registry.names()) or "none"
        return failed(Reason.UNKNOWN_FUNCTION.format(function=function), f"registered functions: {known}")
    try:
        kwargs = codec.decode(args or "{}", max_depth=limits.max_depth)
    except codec.TooDeep:
        return failed(Reason.TOO_DEEP.format(what="args", limit=limits.max_depth), echo(args))
    except DecodeError as exc:
        return failed(Reason.ARGS_NOT_JSON.format(detail=exc), echo(args))
    if not isinstance(kwargs, dict):
        kind = "null" if kwargs is None else type(kwargs).__name__
        return failed(Reason.ARGS_NOT_OBJECT.format(kind=kind), echo(args))
    signature = registry.signature(function)
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        plain = _plain(signature)
        return failed(Reason.ARGS_BIND.format(function=function, signature=plain, detail=exc), echo(args))
    wanted = registry.context_parameter(function)
    if wanted is not None:
        kwargs[wanted] = context or TaskContext("local", function, "", "", 1)
    return fn, kwargs


def _plain(signature: inspect.Signature) -> inspect.Signature:
    """The signature without annotations: what a caller must pass, readable in one line."""
    empty = inspect.Parameter.empty
    parameters = [p.replace(annotation=empty) for p in signature.parameters.values()]
    return signature.replace(parameters=parameters, return_annotation=inspect.Signature.empty)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = ECHO_CHARS


def finalize(function: str, value: Any, limits: Limits) -> Outcome:
    try:
        text = codec.encode(value)
    except EncodeError as exc:
        return failed(Reason.RESULT_ENCODE.format(function=function, detail=exc), echo(_REPR.repr(value)))
    size = len(text.encode("utf-8"))
    if size > limits.max_result_bytes:
        reason = Reason.RESULT_TOO_LARGE.format(function=function, size=size, limit=limits.max_result_bytes)
        return failed(reason, echo(text))
    return Outcome(True, value=text)


def run_call(
    registry: Registry,
    function: str,
    args: str,
    loop: asyncio.AbstractEventLoop | None = None,
    limits: Limits = DEFAULT_LIMITS,
    context: TaskContext | None = None,
) -> Outcome:
    """Run a call in this thread; an ``async def`` function runs to completion on ``loop``."""
    prepared = prepare(registry, function, args, limits, context)
    if isinstance(prepared, Outcome):
        return prepared
    fn, kwargs = prepared
    try:
        value = fn(**kwargs)
        if inspect.isawaitable(value):
            value = loop.run_until_complete(_await(value)) if loop else asyncio.run(_await(value))
    except BaseException as exc:  # noqa: BLE001 - a task's failure, whatever it is, is its outcome
        return failure_from(exc, registry.policy(function).retryable(exc))
    finally:
        if context is not None:
            context.flush()
    return finalize(function, value, limits)


async def _await(value: Any) -> Any:
    return await value


async def run_call_async(
    registry: Registry,
    function: str,
    args: str,
    limits: Limits = DEFAULT_LIMITS,
    context: TaskContext | None = None,
) -> Outcome:
    """Run a call from the worker's event loop: coroutines on the loop, plain functions in a thread."""
    prepared = prepare(registry, function, args, limits, context)
    if isinstance(prepared, Outcome):
        return prepared
    fn, kwargs = prepared
    try:
        if inspect.iscoroutinefunction(fn):
            value = await fn(**kwargs)
        else:
            value = await asyncio.get_running_loop().run_in_executor(None, lambda: fn(**kwargs))
            if inspect.isawaitable(value):
                value = await value
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001 - a task's failure, SystemExit included, is its outcome
        return failure_from(exc, registry.policy(function).retryable(exc))
    finally:
        if context is not None:
            context.flush()
    return finalize(function, value, limits)
