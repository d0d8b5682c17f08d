"""The worker's side of the protocol, with no I/O: what its claim, finish and unclaim calls say, what
their replies mean, and what its worker hash holds.

The worker's I/O code builds every script call here and reads every reply through ``read_claim`` and
the schema's reply names, so the rules can be tested without Redis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from . import codec
from .codec import unix_ms
from .keys import NO_WORKER, Keys, valid_queue, valid_task_id
from .limits import DEFAULT_LIMITS, MAX_MEMORY_LIMIT, MAX_RETRIES, MAX_TIMEOUT, Limits
from .outcome import Outcome, failed
from .schema import (
    HEARTBEAT_EXPIRY_INTERVALS,
    RESULT_TTL_MAX_SECONDS,
    SCHEMA_VERSION,
    ClaimReply,
    Reason,
    Result,
    State,
    TaskField,
    WorkerField,
)
from .scripts import Reply, ScriptCall, script_call
from .text import is_utf8


@dataclass(frozen=True)
class Job:
    """A claimed task that can run: what a pool needs, and this run's attempt and the task's own
    retries and time limit (None: the function's or the worker's apply)."""

    task_id: str
    function: str
    args: str
    memory_limit: int | None
    attempt: int = 1
    retries: int | None = None
    timeout: int | None = None
    queue: str = ""


@dataclass(frozen=True)
class Refused:
    """A claimed task that cannot run; the worker finishes it with this failure."""

    task_id: str
    outcome: Outcome
    attempt: int = 1


@dataclass(frozen=True)
class Dropped:
    """An id the claim dropped from executing: its hash is gone, or it is another worker's or finished."""

    task_id: str
    why: str


Claimed = Union[Job, Refused, Dropped]  # noqa: UP007 - a runtime alias, kept 3.10-friendly


def parse_memory_limit(text: str) -> int | None:
    """A virtual-memory-limit field as bytes (None when empty); ValueError when it is not a usable limit."""
    if not text:
        return None
    # isdigit() alone also takes digits int() refuses ('²') or reads as other numbers ('٣')
    if not (text.isascii() and text.isdigit() and len(text) <= 19) or not 0 < int(text) <= MAX_MEMORY_LIMIT:
        raise ValueError(Reason.BAD_MEMORY_LIMIT.format(value=text))
    return int(text)


def parse_result_ttl(text: str) -> int | None:
    """A result-ttl field as seconds (None when empty); ValueError when it is not one EXPIRE can take."""
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 10) or int(text) > RESULT_TTL_MAX_SECONDS:
        raise ValueError(Reason.BAD_RESULT_TTL.format(limit=RESULT_TTL_MAX_SECONDS, value=text))
    return int(text)


def parse_count(field: str, text: str, low: int, high: int) -> int | None:
    """A whole-number field (None when empty); ValueError, saying which field, when it is out of range."""
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(high))) or not low <= int(text) <= high:
        raise ValueError(Reason.BAD_NUMBER.format(field=field, low=low, high=high, value=text))
    return int(text)


@dataclass(frozen=True)
class RetryPolicy:
    """How a function's failures are retried: ``retries`` more runs (a task's own retries field wins),
    the first ``backoff`` seconds after the failure, doubling each time up to ``max_backoff``, each
    delay drawn between half and one and a half times that (jitter)."""

    retries: int = 0
    backoff: float = 1.0
    max_backoff: float = 300.0

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or not 0 <= self.retries <= MAX_RETRIES:
            raise ValueError(f"retries must be a whole number from 0 to {MAX_RETRIES}, got {self.retries!r}")
        if not 0 <= self.backoff <= self.max_backoff:
            raise ValueError(f"backoff must be from 0 to max_backoff, got {self.backoff!r} and {self.max_backoff!r}")

    def retries_for(self, job: Job) -> int:
        return self.retries if job.retries is None else job.retries

    def delay(self, attempt: int, draw: float) -> float:
        """Seconds before the retry after failed attempt ``attempt``; ``draw`` is uniform in [0, 1)."""
        return float(min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1)) * (0.5 + draw))


def finish_fields(outcome: Outcome, finished_at: str) -> dict[str, str]:
    """Everything the finish script writes into the task hash for this outcome."""
    return {TaskField.STATE: State.FINISHED, TaskField.FINISHED_CREATED: finished_at, **outcome.fields()}


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker says about itself in its worker hash."""

    worker_id: str
    hostname: str
    ipaddress: str
    pid: int
    queue: str
    functions: Sequence[str]
    pool: str
    concurrency: int
    heartbeat_interval: float
    version: str
    queues: Sequence[str] = ()
    """Every queue it serves, in order (``queue`` is the first)."""

    def fields(self, now: str) -> dict[str, str]:
        """The whole worker hash, registered and beating at ``now``; empty values are left out."""
        fields = {
            WorkerField.HOSTNAME: self.hostname,
            WorkerField.IPADDRESS: self.ipaddress,
            WorkerField.PID: str(self.pid),
            WorkerField.REGISTERED: now,
            WorkerField.SCHEMA_VERSION: str(SCHEMA_VERSION),
            WorkerField.QUEUE: self.queue,
            WorkerField.QUEUES: codec.encode(list(self.queues or [self.queue])),
            WorkerField.FUNCTIONS: codec.encode(list(self.functions)),
            WorkerField.POOL: self.pool,
            WorkerField.CONCURRENCY: str(self.concurrency),
            WorkerField.HEARTBEAT: now,
            WorkerField.HEARTBEAT_INTERVAL: repr(self.heartbeat_interval),
            WorkerField.VERSION: self.version,
        }
        return {name: value for name, value in fields.items() if value != ""}  # absent rather than empty

    @property
    def expiry(self) -> int:
        """Seconds the worker hash lives after a heartbeat."""
        return max(1, int(self.heartbeat_interval * HEARTBEAT_EXPIRY_INTERVALS))


RETRIED = "retried"
"""The count of failed runs scheduled again, beside the results successful and failed."""


def count_fields(done: Mapping[str, int]) -> dict[str, str]:
    """The worker hash's task counters, from the worker's counts by result (and ``retried``)."""
    return {
        WorkerField.TASKS_SUCCESSFUL: str(done.get(Result.SUCCESSFUL, 0)),
        WorkerField.TASKS_FAILED: str(done.get(Result.FAILED, 0)),
        WorkerField.TASKS_RETRIED: str(done.get(RETRIED, 0)),
    }


def served_queues(queue: str | None, queues: str | None) -> list[str]:
    """The queues a worker hash says it serves: its queues field when it holds a JSON array, else its
    queue field. Names no queue could have are left out."""
    names: list[Any] = [queue] if queue else []
    if queues:
        try:
            listed = codec.decode(queues)
        except ValueError:
            listed = None
        if isinstance(listed, list):
            names = listed
    return [name for name in names if valid_queue(name)]


ERROR_EXCEPTION_KEPT = 4000
"""The characters of a failed run's error-exception its entry in errors keeps (the last ones)."""


@dataclass(frozen=True)
class WorkerProtocol:
    """The script calls of one worker on one queue, and what their replies mean."""

    keys: Keys
    queue: str
    worker_id: str
    limits: Limits = DEFAULT_LIMITS

    @property
    def pending(self) -> str:
        return self.keys.pending(self.queue)

    @property
    def executing(self) -> str:
        return self.keys.executing(self.queue)

    @property
    def worker_key(self) -> str:
        return self.keys.worker(self.worker_id)

    def runs_id(self, task_id: str) -> bool:
        """Whether a task of this queue can have the id: it keeps the schema's id rule and, on a
        cluster, starts with this queue's hash tag (else its task key is in another slot, out of
        reach of the queue's scripts)."""
        return valid_task_id(task_id) and (not self.keys.cluster or self.keys.queue_of_id(task_id) == self.queue)

    def untaggable(self, task_id: str) -> bool:
        """On a cluster, an id of the schema's rule that starts with no queue's hash tag: no worker
        there can ever take its task (see no_queue_tag_fields)."""
        return self.keys.cluster and valid_task_id(task_id) and self.keys.queue_of_id(task_id) is None

    def claim(self, task_id: str, now: str) -> ScriptCall:
        return script_call(
            "claim",
            keys=dict(
                task=self.keys.task(task_id),
                executing=self.executing,
                pending=self.pending,
                scheduled=self.keys.scheduled(self.queue),
            ),
            argv=dict(
                task_id=task_id,
                worker_id=self.worker_id,
                queue=self.queue,
                now=now,
                max_args_bytes=self.limits.max_args_bytes,
            ),
        )

    def read_claim(self, task_id: str, reply: Reply) -> Claimed:
        """What to do with a task the claim script answered for."""
        if reply.status == ClaimReply.RUN:
            return self._runnable(task_id, reply)
        if reply.status == ClaimReply.INVALID:
            function, state = reply[TaskField.FUNCTION], reply[TaskField.STATE]
            reason = Reason.EMPTY_FUNCTION if not function else Reason.BAD_STATE.format(state=state)
            return Refused(task_id, failed(reason), reply[TaskField.ATTEMPT])
        if reply.status == ClaimReply.TOOBIG:
            reason = Reason.ARGS_TOO_LARGE.format(size=reply["size"], limit=self.limits.max_args_bytes)
            return Refused(task_id, failed(reason), reply[TaskField.ATTEMPT])
        detail = reply.values.get(TaskField.STATE) or reply.values.get("type")
        return Dropped(task_id, f"{reply.status} {detail}" if detail else reply.status)

    def _runnable(self, task_id: str, reply: Reply) -> Job | Refused:
        function, args, attempt = reply[TaskField.FUNCTION], reply[TaskField.ARGS], reply[TaskField.ATTEMPT]
        for field, text in ((TaskField.FUNCTION, function), (TaskField.ARGS, args)):
            if not is_utf8(text):
                return Refused(task_id, failed(Reason.NOT_UTF8.format(field=field)), attempt)
        try:
            limit = parse_memory_limit(reply[TaskField.VIRTUAL_MEMORY_LIMIT])
            parse_result_ttl(reply[TaskField.RESULT_TTL])
            retries = parse_count(TaskField.RETRIES, reply[TaskField.RETRIES], 0, MAX_RETRIES)
            timeout = parse_count(TaskField.TIMEOUT, reply[TaskField.TIMEOUT], 1, MAX_TIMEOUT)
        except ValueError as exc:
            return Refused(task_id, failed(str(exc)), attempt)
        return Job(task_id, function, args, limit, attempt, retries, timeout, self.queue)

    def finish(
        self,
        task_id: str,
        attempt: int,
        outcome: Outcome,
        finished_at: str,
        default_ttl: int,
        progress: str | None = None,
    ) -> ScriptCall:
        """Write the outcome of this run (and its last progress, when not written yet); a failure is
        also indexed in the queue's failed set."""
        fields = finish_fields(outcome, finished_at)
        if progress is not None:
            fields[TaskField.PROGRESS] = progress
        return script_call(
            "finish",
            keys=dict(task=self.keys.task(task_id), executing=self.executing, failed=self.keys.failed(self.queue)),
            argv=dict(
                task_id=task_id,
                worker_id=self.worker_id,
                attempt=attempt,
                results_channel=self.keys.results,
                default_ttl=default_ttl,
                failed_at_ms="" if outcome.ok else unix_ms(finished_at),
                field_values=fields,
            ),
        )

    def retry(
        self, task_id: str, attempt: int, outcome: Outcome, finished_at: str, due_at: str, progress: str | None = None
    ) -> ScriptCall:
        """Record this failed run in the task's errors and schedule it again at ``due_at``."""
        fields = {TaskField.STATE: State.SCHEDULED, TaskField.SCHEDULED_FOR: due_at}
        if progress is not None:
            fields[TaskField.PROGRESS] = progress
        error = {"attempt": attempt, "worker": self.worker_id, "reason": outcome.reason, "at": finished_at}
        if outcome.exception:  # the end of a traceback says the most
            error["exception"] = outcome.exception[-ERROR_EXCEPTION_KEPT:]
        return script_call(
            "retry",
            keys=dict(
                task=self.keys.task(task_id), executing=self.executing, scheduled=self.keys.scheduled(self.queue)
            ),
            argv=dict(
                task_id=task_id,
                worker_id=self.worker_id,
                attempt=attempt,
                due_ms=unix_ms(due_at),
                error_json=codec.encode(error),
                cmd_channel=self.keys.cmd,
                scheduled_command=self.keys.scheduled_command(self.queue),
                field_values=fields,
            ),
        )

    def promote(self, task_id: str) -> ScriptCall:
        return script_call(
            "promote",
            keys=dict(task=self.keys.task(task_id), scheduled=self.keys.scheduled(self.queue), pending=self.pending),
            argv=dict(task_id=task_id),
        )

    def recover(self, task_id: str, owner: str | None, now: str, grace_ms: int, default_retries: int,
                default_ttl: int, owner_alive: bool | None = None) -> ScriptCall:  # fmt: skip
        """Look at one id on executing for a task whose worker (``owner``, as read) is gone. On a
        cluster the caller looked whether the owner's key exists (``owner_alive``): it is in another slot."""
        if self.keys.cluster and owner_alive is None:
            raise ValueError("on a cluster, recover needs owner_alive: the owner's key is in another slot")
        task = self.keys.task(task_id)
        return script_call(
            "recover",
            keys=dict(
                task=task,
                executing=self.executing,
                pending=self.pending,
                failed=self.keys.failed(self.queue),
                owner=task if self.keys.cluster else self.keys.worker(owner or NO_WORKER),
            ),
            argv=dict(
                task_id=task_id,
                owner_id=owner or "",
                now=now,
                grace_ms=grace_ms,
                default_retries=default_retries,
                reason=Reason.WORKER_DIED,
                results_channel=self.keys.results,
                default_ttl=default_ttl,
                cancelled_reason=Reason.CANCELLED_ORPHAN,
                owner_alive="" if not self.keys.cluster else "1" if owner_alive else "0",
            ),
        )

    def progress(self, task_id: str, attempt: int, value: str) -> ScriptCall:
        """Record a running task's progress (JSON text), if it is still this run."""
        return script_call(
            "progress",
            keys=dict(task=self.keys.task(task_id)),
            argv=dict(task_id=task_id, worker_id=self.worker_id, attempt=attempt, value=value),
        )

    def unclaim(self, task_id: str) -> ScriptCall:
        return script_call(
            "unclaim",
            keys=dict(task=self.keys.task(task_id), executing=self.executing, pending=self.pending),
            argv=dict(task_id=task_id, worker_id=self.worker_id),
        )


def no_queue_tag_fields(now: str) -> dict[str, str]:
    """What finishes a pending task no worker on a cluster can take (its id has no queue tag)."""
    return {
        TaskField.STATE: State.FINISHED,
        TaskField.RESULT: Result.FAILED,
        TaskField.ERROR_REASON: Reason.NO_QUEUE_TAG,
        TaskField.FINISHED_CREATED: now,
    }
