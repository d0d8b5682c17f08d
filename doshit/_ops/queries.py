"""What an operator asks of a doshit deployment: queues and their counts, live workers and what they
run, lists of tasks, one task decoded, and the bulk operations (requeue, cancel, purge). No printing:
every function returns data, so a command line and an HTTP API can share them.

Everything read from Redis was written by someone else and may be malformed: a key of the wrong type,
text that is not UTF-8, JSON that does not parse. Nothing here raises for that; the problem is
reported next to the data (``problems``) and the rest is still returned.

Cost: queues, workers and the indexed states (pending, executing, scheduled, failed) read only the
lists and sets that exist for them. Finished tasks have no index (see the README, "Operating from a
terminal"): listing successful or all finished tasks, and purging finished tasks, SCAN the task keys
of the prefix (``{prefix}:task:*``, COUNT 1000), which is O(number of keys in the database).
KEYS is never used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import redis
from redis.crc import key_slot

from .._client.sync import Client, Task
from .._core.config import Settings
from .._core.keys import valid_queue, valid_task_id
from .._core.schema import Result, State, TaskField, TaskFields, WorkerField
from .._core.taskinfo import DECODERS
from .._core.text import is_utf8
from .._core.worker_rules import served_queues
from .._errors import DecodeError
from .._redis import connect

OPS_CLIENT_NAME = "doshit-ops"
"""The name the operator's connections give themselves (CLIENT LIST shows it)."""
CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a connection to Redis before giving up."""
BATCH = 500
"""Commands per pipeline round trip."""
SCAN_COUNT = 1000
"""COUNT of each SCAN call."""
MAX_WORKERS = 10_000
"""At most this many live workers are read."""
MAX_EXECUTING = 10_000
"""At most this many ids of each executing list are read to tell what workers run."""

Step = Callable[[int], None]
"""Called with the number of items just done, for a progress bar."""


# --------------------------------------------------------------------------- decoding by the schema


class _Probe(TaskFields):
    """Reads the generated TaskFields properties to learn each field's schema type."""

    __slots__ = ()

    def _decoded(self, field: str, kind: str) -> Any:
        return (field, kind)


def _task_field_kinds() -> dict[str, str]:
    probe = _Probe()
    kinds: dict[str, str] = {}
    for attr in vars(TaskFields).values():
        if isinstance(attr, property) and attr.fget is not None:
            name, kind = attr.fget(probe)
            kinds[name] = kind
    return kinds


TASK_FIELD_KINDS: Mapping[str, str] = _task_field_kinds()
"""Every task hash field of the schema, in the schema's order, with its type."""

WORKER_FIELD_KINDS: Mapping[str, str] = {
    WorkerField.PID: "integer",
    WorkerField.REGISTERED: "timestamp",
    WorkerField.SCHEMA_VERSION: "integer",
    WorkerField.QUEUES: "json-array",
    WorkerField.FUNCTIONS: "json-array",
    WorkerField.CONCURRENCY: "integer",
    WorkerField.HEARTBEAT: "timestamp",
    WorkerField.TASKS_SUCCESSFUL: "integer",
    WorkerField.TASKS_FAILED: "integer",
    WorkerField.TASKS_RETRIED: "integer",
}
"""The worker hash fields this module decodes (the schema's worker_fields that are not plain strings;
heartbeat-interval is left raw: workers write it as a float)."""


def decode(kind: str | None, text: str) -> Any:
    """A field's text decoded as its schema type says; DecodeError when it does not."""
    if kind is None:
        return text
    if not is_utf8(text):
        raise DecodeError("not valid UTF-8")
    return DECODERS[kind](text)


@dataclass(frozen=True)
class FieldView:
    """One field of a hash: its raw text, its schema type (None: not in the schema), its decoded value
    and, when it did not decode, why."""

    name: str
    raw: str
    kind: str | None
    value: Any = None
    problem: str | None = None


def decode_fields(fields: Mapping[str, str], kinds: Mapping[str, str] = TASK_FIELD_KINDS) -> list[FieldView]:
    """Every field decoded, the schema's first in its order, then the others by name."""
    names = [name for name in kinds if name in fields] + sorted(name for name in fields if name not in kinds)
    views = []
    for name in names:
        kind = kinds.get(name)
        try:
            views.append(FieldView(name, fields[name], kind, decode(kind, fields[name])))
        except DecodeError as exc:
            views.append(FieldView(name, fields[name], kind, None, str(exc)))
    return views


def _optional(kind: str, text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        return decode(kind, text)
    except DecodeError:
        return None


def parse_time(text: str | None) -> datetime | None:
    """A schema timestamp, or None when absent or malformed."""
    value = _optional("timestamp", text)
    return value if isinstance(value, datetime) else None


def seconds_since(moment: datetime | None, now: float | None = None) -> float | None:
    if moment is None:
        return None
    return (time.time() if now is None else now) - moment.timestamp()


def _problem(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- rows


@dataclass
class QueueStats:
    """The counts of one queue's lists and sets (None: could not be read, see problems)."""

    name: str
    pending: int | None = None
    executing: int | None = None
    scheduled: int | None = None
    failed: int | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "queue": self.name,
            State.PENDING: self.pending,
            State.EXECUTING: self.executing,
            State.SCHEDULED: self.scheduled,
            Result.FAILED: self.failed,
            "problems": self.problems,
        }


@dataclass
class Running:
    """A task a worker runs now, as the executing list and the task hash tell."""

    task_id: str
    function: str | None
    queue: str
    started: datetime | None

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "id": self.task_id,
            "function": self.function,
            "queue": self.queue,
            "started": None if self.started is None else _stamp(self.started),
            "seconds": seconds_since(self.started, now),
        }


@dataclass
class WorkerRow:
    """One live worker: its hash (raw and decoded) and the tasks it runs now."""

    worker_id: str
    fields: dict[str, str]
    decoded: dict[str, Any]
    problems: list[str]
    running: list[Running] = field(default_factory=list)

    @property
    def queues(self) -> list[str]:
        return served_queues(self.fields.get(WorkerField.QUEUE), self.fields.get(WorkerField.QUEUES))

    def count(self, name: str) -> int | None:
        value = self.decoded.get(name)
        return value if isinstance(value, int) else None

    @property
    def heartbeat(self) -> datetime | None:
        value = self.decoded.get(WorkerField.HEARTBEAT)
        return value if isinstance(value, datetime) else None

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "id": self.worker_id,
            "hostname": self.fields.get(WorkerField.HOSTNAME),
            "pid": self.count(WorkerField.PID),
            "queues": self.queues,
            "pool": self.fields.get(WorkerField.POOL),
            "concurrency": self.count(WorkerField.CONCURRENCY),
            "version": self.fields.get(WorkerField.VERSION),
            "heartbeat_age": seconds_since(self.heartbeat, now),
            "tasks_successful": self.count(WorkerField.TASKS_SUCCESSFUL),
            "tasks_failed": self.count(WorkerField.TASKS_FAILED),
            "tasks_retried": self.count(WorkerField.TASKS_RETRIED),
            "running": [task.as_dict(now) for task in self.running],
            "fields": self.fields,
            "problems": self.problems,
        }


LIST_FIELDS = (
    TaskField.FUNCTION,
    TaskField.STATE,
    TaskField.RESULT,
    TaskField.QUEUE,
    TaskField.PENDING_CREATED,
    TaskField.EXECUTING_CREATED,
    TaskField.FINISHED_CREATED,
    TaskField.SCHEDULED_FOR,
    TaskField.ATTEMPT,
    TaskField.WORKER,
    TaskField.ERROR_REASON,
)
"""The fields a task listing reads."""


@dataclass
class TaskRow:
    """A task in a listing: the fields of LIST_FIELDS it has (raw), or the problem reading it."""

    task_id: str
    fields: dict[str, str]
    problem: str | None = None

    @property
    def state(self) -> str:
        """The state, with a finished task's result: pending, executing, scheduled, successful, failed."""
        state = self.fields.get(TaskField.STATE, "")
        if state == State.FINISHED and self.fields.get(TaskField.RESULT) in (Result.SUCCESSFUL, Result.FAILED):
            return self.fields[TaskField.RESULT]
        return state

    @property
    def submitted(self) -> datetime | None:
        return parse_time(self.fields.get(TaskField.PENDING_CREATED))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.task_id, "state": self.state, "fields": self.fields, "problem": self.problem}


STATES = (State.PENDING, State.EXECUTING, State.SCHEDULED, Result.FAILED, Result.SUCCESSFUL, State.FINISHED, "all")
"""What ``tasks --state`` takes. The first four have an index; the others SCAN."""
INDEXED_STATES = (State.PENDING, State.EXECUTING, State.SCHEDULED, Result.FAILED)
ORDERS = ("date", "state", "function")
_STATE_RANK = {
    name: rank
    for rank, name in enumerate((State.EXECUTING, State.PENDING, State.SCHEDULED, Result.FAILED, Result.SUCCESSFUL))
}


def _matches(row: TaskRow, state: str | None) -> bool:
    if state is None or state == "all":
        return True
    if state == State.FINISHED:
        return row.fields.get(TaskField.STATE) == State.FINISHED
    return row.state == state


def order_rows(rows: list[TaskRow], order: str) -> list[TaskRow]:
    """date: newest submission first; state: executing, pending, scheduled, failed, successful (newest
    first within each); function: by name (newest first within each)."""
    newest = sorted(rows, key=lambda row: (row.submitted is None, -(row.submitted or _EPOCH).timestamp()))
    if order == "state":
        return sorted(newest, key=lambda row: _STATE_RANK.get(row.state, len(_STATE_RANK)))
    if order == "function":
        return sorted(newest, key=lambda row: row.fields.get(TaskField.FUNCTION, ""))
    return newest


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Outcome:
    """What a bulk operation did: per item status counts, and the items with each status."""

    counts: dict[str, int] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)

    def add(self, item: str, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1
        self.items[item] = status


@dataclass
class PurgeResult:
    """matched: tasks the selection found; deleted: hashes deleted; skipped: changed or gone meanwhile."""

    matched: int = 0
    deleted: int = 0
    skipped: int = 0
    sample: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the queries


class Ops:
    """The operator's view of one prefix. ``close()`` it (or use it as a context manager)."""

    def __init__(self, settings: Settings, *, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.settings = settings
        self.keys = settings.keys
        self.redis = connect(
            settings, client_name=OPS_CLIENT_NAME, socket_connect_timeout=connect_timeout, socket_timeout=60
        )
        self.client = Client(settings=settings)
        # the client's command connection gets the same connect timeout: an unreachable host fails in
        # seconds, not after the system's TCP timeout
        self.client._redis = connect(
            settings,
            single_connection_client=True,
            client_name=OPS_CLIENT_NAME,
            socket_connect_timeout=connect_timeout,
        )

    def close(self) -> None:
        self.client.close()
        self.redis.close()

    def __enter__(self) -> Ops:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> None:
        """Raises the connection's error when Redis cannot be reached."""
        self.redis.ping()

    def _batch(self, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
        """Replies of the commands, in order; a command Redis refused (a key of the wrong type) has its
        error in its place. Raises only when Redis is unavailable."""
        replies: list[Any] = []
        for start in range(0, len(commands), BATCH):
            pipe = self.redis.pipeline(transaction=False)
            for command in commands[start : start + BATCH]:
                pipe.execute_command(*command)
            replies.extend(pipe.execute(raise_on_error=False))
        return replies

    # ----------------------------------------------------------------------- workers and queues

    def worker_ids(self) -> tuple[list[str], list[str]]:
        """Ids of the live workers by the workers index, and any problem reading it."""
        try:
            ids = self.redis.execute_command(
                "ZRANGEBYSCORE", self.keys.workers, time.time(), "+inf", "LIMIT", 0, MAX_WORKERS
            )
        except redis.ResponseError as exc:
            return [], [f"{self.keys.workers}: {_problem(exc)}"]
        return [worker_id for worker_id in ids if isinstance(worker_id, str) and is_utf8(worker_id)], []

    def workers(self, queues: Sequence[str] | None = None) -> tuple[list[WorkerRow], list[str]]:
        """The live workers (their hash exists), with what each runs now read from the executing lists
        of ``queues`` (default: every queue the workers serve). Returns the rows and any problems."""
        ids, problems = self.worker_ids()
        replies = self._batch([("HGETALL", self.keys.worker(worker_id)) for worker_id in ids])
        rows: list[WorkerRow] = []
        for worker_id, reply in zip(ids, replies, strict=True):
            if isinstance(reply, Exception):
                problems.append(f"worker {worker_id!r}: {_problem(reply)}")
                continue
            if not reply:
                continue  # its hash expired: a worker that died, not yet taken off the index
            decoded: dict[str, Any] = {}
            row_problems = []
            for view in decode_fields(reply, WORKER_FIELD_KINDS):
                if view.problem is None:
                    decoded[view.name] = view.value
                elif view.kind is not None:
                    row_problems.append(f"field {view.name}: {view.problem}")
            rows.append(WorkerRow(worker_id, dict(reply), decoded, row_problems))
        rows.sort(key=lambda row: (row.fields.get(WorkerField.HOSTNAME, ""), row.worker_id))
        serving = sorted({queue for row in rows for queue in row.queues}) if queues is None else list(queues)
        by_id = {row.worker_id: row for row in rows}
        for task in self.running(serving, problems):
            fields = by_id.get(task[0])
            if fields is not None:
                fields.running.append(task[1])
        return rows, problems

    def running(self, queues: Sequence[str], problems: list[str]) -> Iterator[tuple[str, Running]]:
        """(worker id, task) for the tasks on the queues' executing lists that a worker claimed."""
        lists = self._batch([("LRANGE", self.keys.executing(queue), 0, MAX_EXECUTING - 1) for queue in queues])
        found: list[tuple[str, str]] = []
        for queue, reply in zip(queues, lists, strict=True):
            if isinstance(reply, Exception):
                problems.append(f"{self.keys.executing(queue)}: {_problem(reply)}")
                continue
            found.extend((queue, task_id) for task_id in dict.fromkeys(reply) if valid_task_id(task_id))
        wanted = (TaskField.WORKER, TaskField.FUNCTION, TaskField.EXECUTING_CREATED, TaskField.STATE)
        replies = self._batch([("HMGET", self.keys.task(task_id), *wanted) for _, task_id in found])
        for (queue, task_id), reply in zip(found, replies, strict=True):
            if isinstance(reply, Exception) or reply[0] is None or reply[3] != State.EXECUTING:
                continue
            yield reply[0], Running(task_id, reply[1], queue, parse_time(reply[2]))

    def queues(self, extra: Iterable[str] = (), workers: Sequence[WorkerRow] | None = None) -> list[str]:
        """The known queues: the default queue, the ``extra`` ones, and those the live workers serve."""
        if workers is None:
            workers, _ = self.workers([])
        names = {self.settings.queue, *extra}
        names.update(queue for row in workers for queue in row.queues)
        return sorted(names)

    def queue_stats(self, queues: Sequence[str]) -> list[QueueStats]:
        """The counts of each queue: LLEN pending and executing, ZCARD scheduled and failed."""
        commands: list[tuple[Any, ...]] = []
        for queue in queues:
            commands += [
                ("LLEN", self.keys.pending(queue)),
                ("LLEN", self.keys.executing(queue)),
                ("ZCARD", self.keys.scheduled(queue)),
                ("ZCARD", self.keys.failed(queue)),
            ]
        replies = self._batch(commands)
        stats = []
        for index, queue in enumerate(queues):
            row = QueueStats(queue)
            for offset, name in enumerate((State.PENDING, State.EXECUTING, State.SCHEDULED, Result.FAILED)):
                reply = replies[index * 4 + offset]
                if isinstance(reply, Exception):
                    row.problems.append(f"{commands[index * 4 + offset][1]}: {_problem(reply)}")
                else:
                    setattr(row, name, int(reply))
            stats.append(row)
        return stats

    # ----------------------------------------------------------------------- tasks

    def indexed_ids(self, queue: str, state: str, problems: list[str]) -> list[str]:
        """The ids on one of the queue's lists or sets: pending (oldest first), executing, scheduled
        (soonest first), failed (oldest first)."""
        key, command = {
            State.PENDING: (self.keys.pending(queue), ("LRANGE", 0, -1)),
            State.EXECUTING: (self.keys.executing(queue), ("LRANGE", 0, -1)),
            State.SCHEDULED: (self.keys.scheduled(queue), ("ZRANGE", 0, -1)),
            Result.FAILED: (self.keys.failed(queue), ("ZRANGE", 0, -1)),
        }[state]
        try:
            ids = self.redis.execute_command(command[0], key, *command[1:])
        except redis.ResponseError as exc:
            problems.append(f"{key}: {_problem(exc)}")
            return []
        if command[0] == "LRANGE":
            ids.reverse()
        good = [task_id for task_id in ids if valid_task_id(task_id)]
        if len(good) < len(ids):
            problems.append(f"{key}: {len(ids) - len(good)} entries that are not task ids left out")
        return good

    def scan_task_ids(self, on_step: Step | None = None) -> Iterator[str]:
        """Every task id of the prefix, by SCAN (O(keys in the database))."""
        for key in self.redis.scan_iter(match=self.keys.task("*"), count=SCAN_COUNT):
            if on_step is not None:
                on_step(1)
            task_id = self.keys.task_id(key)
            if task_id is not None and valid_task_id(task_id):
                yield task_id

    def rows(self, ids: Sequence[str], fields: Sequence[str] = LIST_FIELDS) -> list[TaskRow]:
        """The tasks' fields; tasks whose hash is gone are left out, keys of the wrong type kept with
        their problem."""
        replies = self._batch([("HMGET", self.keys.task(task_id), *fields) for task_id in ids])
        rows = []
        for task_id, reply in zip(ids, replies, strict=True):
            if isinstance(reply, Exception):
                rows.append(TaskRow(task_id, {}, _problem(reply)))
            elif any(value is not None for value in reply):
                rows.append(TaskRow(task_id, {n: v for n, v in zip(fields, reply, strict=True) if v is not None}))
        return rows

    def tasks(
        self,
        queues: Sequence[str],
        *,
        state: str | None = None,
        function: str | None = None,
        all_queues: bool = True,
        on_step: Step | None = None,
    ) -> tuple[list[TaskRow], list[str]]:
        """The tasks of the queues in that state (None: every indexed state), with that function.

        pending, executing, scheduled, failed and None read the queues' lists and sets; successful,
        finished and all SCAN the task keys (then, unless ``all_queues``, only tasks whose ``queue``
        field is one of ``queues`` are kept). Returns the rows, unordered, and the problems met."""
        problems: list[str] = []
        if state in INDEXED_STATES or state is None:
            ids = dict.fromkeys(
                task_id
                for queue in queues
                for wanted in ((state,) if state else INDEXED_STATES)
                for task_id in self.indexed_ids(queue, wanted, problems)
            )
            rows = self.rows(list(ids))
        else:
            rows = []
            chunk: list[str] = []
            for task_id in self.scan_task_ids(on_step):
                chunk.append(task_id)
                if len(chunk) >= BATCH:
                    rows += self.rows(chunk)
                    chunk = []
            rows += self.rows(chunk)
            if not all_queues:
                rows = [row for row in rows if row.fields.get(TaskField.QUEUE) in queues]
        kept = [
            row
            for row in rows
            if row.problem is not None
            or (_matches(row, state) and (function is None or row.fields.get(TaskField.FUNCTION) == function))
        ]
        return kept, problems

    def task(self, task_id: str) -> dict[str, str]:
        """The whole task hash (empty: no such task). Raises redis.ResponseError for a key of another type."""
        fields: dict[str, str] = self.redis.execute_command("HGETALL", self.keys.task(task_id))
        return fields

    def key_type(self, task_id: str) -> str:
        kind: str = self.redis.execute_command("TYPE", self.keys.task(task_id))
        return kind

    # ----------------------------------------------------------------------- actions (the client's API)

    def handle(self, task_id: str) -> Task:
        return Task(self.client, task_id)

    def cancel(self, ids: Iterable[str], on_step: Step | None = None) -> Outcome:
        """Cancel each (kill when executing): cancelled, killing, finished or missing."""
        outcome = Outcome()
        for task_id in ids:
            outcome.add(task_id, self.handle(task_id).cancel() if valid_task_id(task_id) else "missing")
            if on_step is not None:
                on_step(1)
        return outcome

    def requeue(self, ids: Iterable[str], on_step: Step | None = None) -> Outcome:
        """Requeue each failed task: requeued, not_failed or missing."""
        outcome = Outcome()
        for task_id in ids:
            outcome.add(task_id, self.client.requeue(task_id) if valid_task_id(task_id) else "missing")
            if on_step is not None:
                on_step(1)
        return outcome

    def failed_ids(
        self, queues: Sequence[str], *, since_ms: int | None = None, until_ms: int | None = None
    ) -> tuple[list[str], list[str]]:
        """Ids in the queues' failed indexes that failed from ``since_ms`` until ``until_ms`` (unix ms),
        oldest first."""
        problems: list[str] = []
        ids: list[str] = []
        low = "-inf" if since_ms is None else since_ms
        high = "+inf" if until_ms is None else until_ms
        for queue in queues:
            try:
                found = self.redis.execute_command("ZRANGEBYSCORE", self.keys.failed(queue), low, high)
            except redis.ResponseError as exc:
                problems.append(f"{self.keys.failed(queue)}: {_problem(exc)}")
                continue
            ids += [task_id for task_id in found if isinstance(task_id, str) and valid_task_id(task_id)]
        return list(dict.fromkeys(ids)), problems

    def functions(self, ids: Sequence[str]) -> dict[str, str | None]:
        replies = self._batch([("HGET", self.keys.task(task_id), TaskField.FUNCTION) for task_id in ids])
        return {
            task_id: None if isinstance(reply, Exception) else reply
            for task_id, reply in zip(ids, replies, strict=True)
        }

    # ----------------------------------------------------------------------- purge

    def purge_failed(
        self, queues: Sequence[str], *, until_ms: int | None, dry_run: bool, on_step: Step | None = None
    ) -> tuple[PurgeResult, list[str]]:
        """Delete the hashes of the failed tasks of the queues that failed before ``until_ms``, and
        take them off the failed index; reads only the failed indexes."""
        result = PurgeResult()
        problems: list[str] = []
        for queue in queues:
            ids, found = self.failed_ids([queue], until_ms=until_ms)
            problems += found
            for start in range(0, len(ids), BATCH):
                chunk = ids[start : start + BATCH]
                self._purge(chunk, result, dry_run, lambda fields: _is_failed(fields), queue)
                if on_step is not None:
                    on_step(len(chunk))
        return result, problems

    def purge_finished(
        self,
        queues: Sequence[str] | None,
        *,
        until: datetime | None,
        dry_run: bool,
        on_step: Step | None = None,
    ) -> tuple[PurgeResult, list[str]]:
        """Delete the hashes of finished tasks (of the queues, None: all) that finished before
        ``until``: SCAN over the task keys, O(keys in the database)."""
        result = PurgeResult()

        def wanted(fields: Mapping[str, str | None]) -> bool:
            if fields.get(TaskField.STATE) != State.FINISHED:
                return False
            if queues is not None and fields.get(TaskField.QUEUE) not in queues:
                return False
            finished = parse_time(fields.get(TaskField.FINISHED_CREATED))
            return until is None or (finished is not None and finished <= until)

        chunk: list[str] = []
        for task_id in self.scan_task_ids(on_step):
            chunk.append(task_id)
            if len(chunk) >= BATCH:
                self._purge(chunk, result, dry_run, wanted, None)
                chunk = []
        self._purge(chunk, result, dry_run, wanted, None)
        return result, []

    def _purge(
        self,
        ids: Sequence[str],
        result: PurgeResult,
        dry_run: bool,
        wanted: Callable[[Mapping[str, str | None]], bool],
        queue: str | None,
    ) -> None:
        """Delete those of the tasks that are ``wanted``, atomically with their check: the keys are
        WATCHed first, read on another connection, and deleted in MULTI/EXEC, which fails if any of
        them changed meanwhile (then each is tried once more on its own)."""
        if not ids:
            return
        if self.keys.cluster and len(ids) > 1:  # a transaction keeps to one hash slot
            by_slot: dict[int, list[str]] = {}
            for task_id in ids:
                by_slot.setdefault(key_slot(self.keys.task(task_id).encode()), []).append(task_id)
            if len(by_slot) > 1:
                for group in by_slot.values():
                    self._purge(group, result, dry_run, wanted, queue)
                return
        if len(ids) > 1 and not self._purge_once(ids, result, dry_run, wanted, queue):
            for task_id in ids:
                self._purge([task_id], result, dry_run, wanted, queue)
        elif len(ids) == 1 and not self._purge_once(ids, result, dry_run, wanted, queue):
            result.skipped += 1

    def _purge_once(
        self,
        ids: Sequence[str],
        result: PurgeResult,
        dry_run: bool,
        wanted: Callable[[Mapping[str, str | None]], bool],
        queue: str | None,
    ) -> bool:
        names = (TaskField.STATE, TaskField.RESULT, TaskField.QUEUE, TaskField.FINISHED_CREATED)
        keys = [self.keys.task(task_id) for task_id in ids]
        with self.redis.pipeline(transaction=True) as pipe:
            if not dry_run:
                pipe.watch(*keys)
            replies = self._batch([("HMGET", key, *names) for key in keys])
            doomed: list[tuple[str, str | None, str | None]] = []  # id, queue of its failed index, result
            gone: list[str] = []
            for task_id, reply in zip(ids, replies, strict=True):
                if isinstance(reply, Exception):
                    continue  # not a hash: not ours to delete
                fields = dict(zip(names, reply, strict=True))
                if all(value is None for value in reply):
                    gone.append(task_id)
                elif wanted(fields):
                    doomed.append((task_id, queue or fields[TaskField.QUEUE], fields[TaskField.RESULT]))
            if dry_run:
                result.matched += len(doomed)
                result.sample += [task_id for task_id, _, _ in doomed[: max(0, 20 - len(result.sample))]]
                return True
            pipe.multi()
            for task_id, index_queue, outcome in doomed:
                pipe.delete(self.keys.task(task_id))
                if outcome == Result.FAILED and index_queue is not None and valid_queue(index_queue):
                    pipe.zrem(self.keys.failed(index_queue), task_id)
            if queue is not None and gone:  # expired hashes still in the failed index
                pipe.zrem(self.keys.failed(queue), *gone)
            try:
                pipe.execute()
            except redis.WatchError:
                return False
        result.matched += len(doomed)
        result.deleted += len(doomed)
        result.sample += [task_id for task_id, _, _ in doomed[: max(0, 20 - len(result.sample))]]
        return True


def _is_failed(fields: Mapping[str, str | None]) -> bool:
    return fields.get(TaskField.STATE) == State.FINISHED and fields.get(TaskField.RESULT) == Result.FAILED
