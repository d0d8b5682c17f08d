"""The client operations, with no I/O: what a submit writes, how a result is read, what a reply means.

Each client operation is a *flow*: a generator that yields the steps it needs (a Redis command, a
script, waiting for a results notification) and receives their replies. The sync Client and the
AsyncClient are two small drivers of the same flows, so the rules exist once.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, TypeVar, Union

from .._errors import ConfigError, DecodeError, TaskExists, TaskNotFound, TaskTimeout
from . import codec
from .backoff import Backoff
from .codec import unix_ms
from .keys import Keys
from .limits import MAX_MEMORY_LIMIT, MAX_RETRIES, MAX_TIMEOUT
from .schema import (
    MAX_ARGS_BYTES,
    RECONNECT_DELAYS,
    RESULT_TTL,
    RESULT_TTL_MAX_SECONDS,
    SCHEMA_VERSION,
    SUBMIT_MANY_MAX,
    CancelReply,
    Reason,
    RequeueReply,
    State,
    SubmitManyReply,
    SubmitReply,
    TaskField,
    WorkerField,
)
from .scripts import Reply, ScriptCall, script_call
from .taskinfo import WAIT_FIELDS, TaskInfo
from .text import is_utf8
from .worker_rules import served_queues

T = TypeVar("T")


class Disconnected(Exception):
    """Thrown into a flow by its driver when Redis could not take a step (unreachable, restarting,
    loading). A flow that can ride it out catches it; otherwise the driver raises ``cause``."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass(frozen=True)
class Call:
    """Run one Redis command; the reply comes back decoded to str."""

    args: tuple[Any, ...]


@dataclass(frozen=True)
class RunScript:
    """Run one of the schema's Lua scripts; the reply is a Reply, read by name."""

    call: ScriptCall


@dataclass(frozen=True)
class Subscribe:
    """Make sure the client's results subscription is live (before the first push, and before each
    read of a wait): it connects the first time, and waits for a lost one to come back."""


@dataclass(frozen=True)
class Watch:
    """Start collecting results notifications for a task key (no I/O), until the flow ends; with
    ``keep``, until the task's result is delivered. The reply is True when the hash must be re-read
    before waiting (False: a kept watch, registered before the push, has heard nothing yet)."""

    key: str
    keep: bool = False


@dataclass(frozen=True)
class Wait:
    """Block until a notification for a watched key arrives (True) or the timeout passes (False)."""

    key: str
    timeout: float | None


Step = Union[Call, RunScript, Subscribe, Watch, Wait]  # noqa: UP007 - a runtime alias, kept 3.10-friendly
Flow = Generator[Step, Any, T]

OPTION_PREFIX = "_"
"""Keyword arguments of submit() that start with this are options, not task arguments."""


@dataclass(frozen=True)
class SubmitOptions:
    """Per-task options: submit(..., _queue=, _task_id=, _username=, _virtual_memory_limit=, _result_ttl=,
    _retries=, _timeout=, _delay=, _at=, _meta=)."""

    queue: str | None = None
    task_id: str | None = None
    username: str | None = None
    virtual_memory_limit: int | None = None
    result_ttl: int | None = None
    retries: int | None = None
    timeout: int | None = None
    delay: float | None = None
    at: datetime | None = None
    meta: Mapping[str, Any] | None = None

    def due(self, now: float | None = None) -> datetime | None:
        """When the task is due, for a delayed or timed one; None to queue it at once."""
        if self.delay is not None and self.at is not None:
            raise TypeError("give _delay or _at, not both")
        if self.delay is not None:
            if isinstance(self.delay, bool) or not isinstance(self.delay, (int, float)) or not 0 <= self.delay < 1e9:
                raise ValueError(f"_delay must be a number of seconds from 0, got {self.delay!r}")
            moment = now if now is not None else time.time()
            return datetime.fromtimestamp(moment + self.delay, timezone.utc)
        if self.at is not None:
            if not isinstance(self.at, datetime):
                raise TypeError(f"_at must be a datetime, got {type(self.at).__name__}")
            return self.at if self.at.tzinfo is not None else self.at.replace(tzinfo=timezone.utc)
        return None


_OPTION_NAMES = {f"{OPTION_PREFIX}{name}" for name in SubmitOptions.__dataclass_fields__}


def split_options(kwargs: dict[str, Any]) -> tuple[dict[str, Any], SubmitOptions]:
    """Separate task arguments from the _-prefixed options."""
    options = {name[1:]: kwargs.pop(name) for name in list(kwargs) if name.startswith(OPTION_PREFIX)}
    unknown = {f"{OPTION_PREFIX}{name}" for name in options} - _OPTION_NAMES
    if unknown:
        known = ", ".join(sorted(_OPTION_NAMES))
        raise TypeError(f"unknown submit option(s) {', '.join(sorted(unknown))}; options are {known}")
    return kwargs, SubmitOptions(**options)


def _whole(name: str, value: int | None, low: int, high: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return str(value)


def submit_fields(
    function: str,
    kwargs: Mapping[str, Any],
    *,
    queue: str,
    username: str | None = None,
    virtual_memory_limit: int | None = None,
    result_ttl: int | None = None,
    retries: int | None = None,
    timeout: int | None = None,
    due: datetime | None = None,
    now: str | None = None,
    max_args_bytes: int = MAX_ARGS_BYTES,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The exact hash a submit writes. Raises before any I/O when something cannot be written."""
    if not isinstance(function, str) or not function or not is_utf8(function):
        raise ValueError(f"function must be a non-empty string, got {function!r}")
    if username is not None and not isinstance(username, str):
        raise ValueError(f"username must be a string, got {type(username).__name__}")
    args = codec.encode(dict(kwargs))
    size = len(args.encode("utf-8"))
    if size > max_args_bytes:
        raise ValueError(f"args are {size} bytes as JSON, more than the client's limit of {max_args_bytes}")
    fields = {
        TaskField.FUNCTION: function,
        TaskField.STATE: State.PENDING if due is None else State.SCHEDULED,
        TaskField.ARGS: args,
        TaskField.PENDING_CREATED: now or codec.now_timestamp(),
        TaskField.SCHEMA_VERSION: str(SCHEMA_VERSION),
        TaskField.QUEUE: queue,
    }
    optional = {
        TaskField.USERNAME: username,
        TaskField.VIRTUAL_MEMORY_LIMIT: _whole("virtual memory limit", virtual_memory_limit, 1, MAX_MEMORY_LIMIT),
        TaskField.RESULT_TTL: _whole("result ttl", result_ttl, 0, RESULT_TTL_MAX_SECONDS),
        TaskField.RETRIES: _whole("retries", retries, 0, MAX_RETRIES),
        TaskField.TIMEOUT: _whole("timeout", timeout, 1, MAX_TIMEOUT),
        TaskField.SCHEDULED_FOR: None if due is None else codec.format_timestamp(due),
        TaskField.META: None if meta is None else _meta(meta, max_args_bytes),
    }
    fields.update({name: value for name, value in optional.items() if value is not None})
    return fields


def _meta(meta: Mapping[str, Any], max_bytes: int) -> str:
    if not isinstance(meta, Mapping):
        raise ValueError(f"meta must be a mapping of names to JSON values, got {type(meta).__name__}")
    text = codec.encode(dict(meta))
    if len(text.encode("utf-8")) > max_bytes:
        raise ValueError(f"meta is more than the client's limit of {max_bytes} bytes as JSON")
    return text


def new_task_id() -> str:
    return str(uuid.uuid4())


def _field_options(
    queue: str, options: SubmitOptions, due: datetime | None, now: str | None, max_args_bytes: int
) -> dict[str, Any]:
    """submit_fields' keyword arguments for these options."""
    return dict(
        queue=queue,
        username=options.username,
        virtual_memory_limit=options.virtual_memory_limit,
        result_ttl=options.result_ttl,
        retries=options.retries,
        timeout=options.timeout,
        due=due,
        now=now,
        max_args_bytes=max_args_bytes,
        meta=options.meta,
    )


def submit(
    keys: Keys,
    queue: str,
    function: str,
    kwargs: dict[str, Any],
    options: SubmitOptions,
    max_args_bytes: int = MAX_ARGS_BYTES,
) -> Flow[str]:
    """Write the task and push its id, after making sure the results subscription is live."""
    task_id = keys.task_id_for(queue, new_task_id() if options.task_id is None else options.task_id)
    due = options.due()
    fields = submit_fields(function, kwargs, **_field_options(queue, options, due, None, max_args_bytes))
    call = script_call(
        "submit",
        keys=dict(task=keys.task(task_id), pending=keys.pending(queue), scheduled=keys.scheduled(queue)),
        argv=dict(
            task_id=task_id,
            due_ms="" if due is None else str(unix_ms(due)),
            cmd_channel=keys.cmd,
            scheduled_command=keys.scheduled_command(queue),
            field_values=fields,
        ),
    )
    yield Subscribe()
    yield Watch(keys.task(task_id), keep=True)
    reply: Reply = yield RunScript(call)
    if reply.status == SubmitReply.EXISTS and options.task_id is not None:
        # (a generated id exists only when a send whose reply was lost was made again: it is ours)
        raise TaskExists(f"task {task_id} already exists; nothing was submitted")
    return task_id


def new_task_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text, from one read of the system's random source."""
    hexes = os.urandom(16 * count).hex()
    ids = []
    for at in range(0, 32 * count, 32):
        h = hexes[at : at + 32]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}")
    return ids


_VARIANT = "89ab"
"""The first hex digit of a UUID's fourth group holds its variant (RFC 4122: binary 10xx)."""


def _merged(common: SubmitOptions, own: SubmitOptions) -> SubmitOptions:
    given = {name: value for name, value in vars(own).items() if value is not None}
    return replace(common, **given) if given else common


def submit_many(
    keys: Keys,
    queue: str,
    function: str,
    items: Iterable[Mapping[str, Any]],
    options: SubmitOptions,
    max_args_bytes: int = MAX_ARGS_BYTES,
) -> Flow[list[str]]:
    """Write many tasks of one function and queue (or schedule) their ids with one script call: all
    of them, or none when an id is taken (TaskExists names the ids). Each item holds one task's named
    arguments and may hold its own ``_``-options (not ``_queue``: a call serves one queue); they win
    over ``options``. Everything is checked before anything is sent. No results subscription: a
    later wait watches and then reads, so it misses nothing."""
    if isinstance(items, (str, bytes, Mapping)):
        raise TypeError(f"submit_many takes a list of argument mappings, got {type(items).__name__}")
    items = list(items)
    if len(items) > SUBMIT_MANY_MAX:
        raise ValueError(f"submit_many writes at most {SUBMIT_MANY_MAX} tasks in one call, got {len(items)}")
    if options.task_id is not None:
        raise ValueError("_task_id names one task: give it in that task's mapping")
    if options.queue not in (None, queue):
        raise ValueError(f"_queue {options.queue!r} is not the queue {queue!r} this call pushes on")
    now = codec.now_timestamp()
    due = options.due()
    common = submit_fields(function, {}, **_field_options(queue, options, due, now, max_args_bytes))
    del common[TaskField.ARGS]
    common_due = "" if due is None else str(unix_ms(due))
    chosen: set[str] = set()

    def one(item: Mapping[str, Any], task_id: str) -> tuple[str, ...]:
        """One task's part of ``tasks*``: id, due time, its own fields."""
        if not isinstance(item, Mapping):
            raise TypeError(f"arguments must be a mapping of names to values, got {type(item).__name__}")
        if not any(name[:1] == OPTION_PREFIX for name in item):
            encoded = codec.encode(dict(item))
            if len(encoded) * 4 > max_args_bytes and len(encoded.encode("utf-8")) > max_args_bytes:
                size = len(encoded.encode("utf-8"))
                raise ValueError(f"args are {size} bytes as JSON, more than the client's limit of {max_args_bytes}")
            return (task_id, common_due, "1", TaskField.ARGS, encoded)
        args, own = split_options(dict(item))
        task_options = _merged(options, own)
        if task_options.queue != options.queue:
            raise ValueError("_queue differs; one submit_many pushes on one queue")
        if own.task_id is not None:
            task_id = keys.task_id_for(queue, own.task_id)
            if task_id in chosen:
                raise ValueError(f"task id {task_id} is given twice")
            chosen.add(task_id)
        own_due = task_options.due()
        fields = submit_fields(function, args, **_field_options(queue, task_options, own_due, now, max_args_bytes))
        pairs = [part for pair in fields.items() for part in pair]
        return (task_id, "" if own_due is None else str(unix_ms(own_due)), str(len(fields)), *pairs)

    task_ids: list[str] = []
    task_keys: list[str] = []
    tasks: list[str] = []
    tag = keys.id_tag(queue)
    for index, (item, generated) in enumerate(zip(items, new_task_ids(len(items)), strict=True)):
        try:
            part = one(item, tag + generated)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"task {index}: {exc}") from None
        tasks += part
        task_ids.append(part[0])
        task_keys.append(keys.task(part[0]))
    if not task_ids:
        return task_ids
    call = script_call(
        "submit_many",
        keys=dict(pending=keys.pending(queue), scheduled=keys.scheduled(queue), task=task_keys),
        argv=dict(
            cmd_channel=keys.cmd,
            scheduled_command=keys.scheduled_command(queue),
            count=len(task_ids),
            common_fields=codec.encode(common),
            tasks=tasks,
        ),
    )
    reply: Reply = yield RunScript(call)
    if reply.status == SubmitManyReply.EXISTS:
        existing = codec.decode(reply["task_ids"]) if isinstance(reply["task_ids"], str) else None
        if not isinstance(existing, list):
            raise DecodeError(f"script submit_many replied exists with {reply['task_ids']!r}, not a list of ids")
        taken = [task_id for task_id in existing if task_id in chosen]
        # (generated ids exist only when a send whose reply was lost was made again: all were written then)
        if taken:
            shown = ", ".join(taken[:5]) + (f" and {len(taken) - 5} more" if len(taken) > 5 else "")
            raise TaskExists(f"task ids {shown} already exist; none of the {len(task_ids)} tasks was submitted")
    return task_ids


def info(keys: Keys, task_id: str) -> Flow[TaskInfo]:
    fields = yield Call(("HGETALL", keys.task(task_id)))
    if not fields:
        raise TaskNotFound(f"no task {task_id} (never submitted, or its result expired)")
    return TaskInfo(task_id, fields)


def wait(keys: Keys, task_id: str, timeout: float | None) -> Flow[TaskInfo]:
    """Until the task is finished: watch first, then re-read the hash, so no result is missed.

    Redis going away (a restart, a failover) does not end the wait: it reads again as soon as the
    subscription is back, and only the timeout ends it."""
    key = keys.task(task_id)
    deadline = None if timeout is None else time.monotonic() + timeout
    must_read = yield Watch(key)
    state = State.PENDING
    backoff = Backoff(RECONNECT_DELAYS)
    while True:
        pause = None
        try:
            yield Subscribe()
            if must_read:
                values = yield Call(("HMGET", key, *WAIT_FIELDS))
                state = values[0]
                if state == State.FINISHED:
                    return TaskInfo(task_id, {n: v for n, v in zip(WAIT_FIELDS, values, strict=True) if v is not None})
                if state is None:
                    raise TaskNotFound(f"no task {task_id} (never submitted, or its result expired)")
            backoff.reset()
        except Disconnected:
            pause = backoff.failed()  # woken earlier when the subscription is back
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise TaskTimeout(f"task {task_id} did not finish within {timeout} s (it is {state})")
        yield Wait(key, remaining if pause is None else min(pause, remaining or pause))
        must_read = True


def poll(keys: Keys, task_id: str) -> Flow[bool]:
    state = yield Call(("HGET", keys.task(task_id), TaskField.STATE))
    if state is None:
        raise TaskNotFound(f"no task {task_id} (never submitted, or its result expired)")
    return bool(state == State.FINISHED)


def _queue_of(keys: Keys, task_id: str, queue: str | None, default_queue: str) -> str | None:
    """The task's queue, or the client's when the hash names one no producer could have used (then
    the task is on none of its lists). On a cluster, the queue in the id's tag: the only one whose
    keys share the task's slot (None for an id without one: no task of this layout has it)."""
    if keys.cluster:
        return keys.queue_of_id(task_id)
    try:
        keys.pending(queue or default_queue)
    except ConfigError:
        return default_queue
    return queue or default_queue


def cancel(keys: Keys, task_id: str, default_queue: str) -> Flow[str]:
    """Cancel a pending or scheduled task (or one whose worker is dead), or send the kill command for
    one a live worker runs; returns what happened."""
    key = keys.task(task_id)
    queue, owner = yield Call(("HMGET", key, TaskField.QUEUE, TaskField.WORKER))
    queue = _queue_of(keys, task_id, queue, default_queue)
    if queue is None:
        return CancelReply.MISSING
    gone = bool(owner) and not (yield Call(("EXISTS", keys.worker(owner))))
    call = script_call(
        "cancel",
        keys=dict(
            task=key,
            pending=keys.pending(queue),
            scheduled=keys.scheduled(queue),
            failed=keys.failed(queue),
        ),
        argv=dict(
            task_id=task_id,
            owner_id=owner or "",
            owner_gone=int(gone),
            results_channel=keys.results,
            cmd_channel=keys.cmd,
            kill_command=keys.kill(task_id),
            now=codec.now_timestamp(),
            now_ms=unix_ms(),
            reason=Reason.CANCELLED,
            orphan_reason=Reason.CANCELLED_ORPHAN.format(worker=owner),
            default_ttl=RESULT_TTL,
        ),
    )
    reply: Reply = yield RunScript(call)
    return reply.status


def requeue(keys: Keys, task_id: str, default_queue: str) -> Flow[str]:
    """Run a failed task again (its history kept in errors); returns what happened."""
    key = keys.task(task_id)
    queue = _queue_of(keys, task_id, (yield Call(("HGET", key, TaskField.QUEUE))), default_queue)
    if queue is None:
        return RequeueReply.MISSING
    call = script_call(
        "requeue",
        keys=dict(task=key, pending=keys.pending(queue), failed=keys.failed(queue)),
        argv=dict(task_id=task_id),
    )
    reply: Reply = yield RunScript(call)
    return reply.status


def served(keys: Keys, queue: str) -> Flow[bool]:
    """Whether a live worker of this version serves the queue, by the workers index (legacy workers
    are not in it). Reads at most 100 worker hashes."""
    live = yield Call(("ZRANGEBYSCORE", keys.workers, time.time(), "+inf", "LIMIT", 0, 100))
    for worker_id in live:
        first, every = yield Call(("HMGET", keys.worker(worker_id), WorkerField.QUEUE, WorkerField.QUEUES))
        if queue in served_queues(first, every):
            return True
    return False


def kill_all(keys: Keys) -> Flow[int]:
    """Ask every worker of this prefix to kill whatever it runs; returns how many workers heard it."""
    heard = yield Call(("PUBLISH", keys.cmd, keys.kill_all))
    return int(heard)
