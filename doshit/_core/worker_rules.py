"""The worker's side of the protocol, with no I/O: what its claim, finish and unclaim calls say, what
their replies mean, and what its worker hash holds.

The worker's I/O code builds every script call here and reads every reply through ``read_claim`` and
the schema's reply names, so the rules can be tested without Redis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from . import codec
from .keys import Keys
from .outcome import Outcome, failed
from .schema import (
    HEARTBEAT_EXPIRY_INTERVALS,
    MAX_ARGS_BYTES,
    MAX_DEPTH,
    MAX_RESULT_BYTES,
    RESULT_TTL_MAX_SECONDS,
    SCHEMA_VERSION,
    ClaimReply,
    Reason,
    State,
    TaskField,
    WorkerField,
)
from .scripts import Reply, ScriptCall, script_call
from .text import is_utf8

MAX_MEMORY_LIMIT = 2**63 - 1
"""The largest RLIMIT_AS that setrlimit takes; a larger virtual-memory-limit is refused."""


@dataclass(frozen=True)
class Limits:
    """What a worker refuses to run or to write: args and results larger than so many bytes of JSON,
    and args nested deeper than so many levels."""

    max_args_bytes: int = MAX_ARGS_BYTES
    max_result_bytes: int = MAX_RESULT_BYTES
    max_depth: int = MAX_DEPTH

    def __post_init__(self) -> None:
        for name in ("max_args_bytes", "max_result_bytes", "max_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def argv(self) -> list[str]:
        """The limits as command line options of a child process (see from_argv)."""
        return [f"--max-args-bytes={self.max_args_bytes}", f"--max-result-bytes={self.max_result_bytes}",
                f"--max-depth={self.max_depth}"]  # fmt: skip

    @classmethod
    def from_argv(cls, argv: Sequence[str]) -> Limits:
        given = dict(arg[2:].replace("-", "_").split("=", 1) for arg in argv if arg.startswith("--max-"))
        return cls(**{name: int(value) for name, value in given.items()})


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Job:
    """A claimed task that can run, as a pool needs it."""

    task_id: str
    function: str
    args: str
    memory_limit: int | None


@dataclass(frozen=True)
class Refused:
    """A claimed task that cannot run; the worker finishes it with this failure."""

    task_id: str
    outcome: Outcome


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

    def fields(self, now: str) -> dict[str, str]:
        """The whole worker hash, registered and beating at ``now``; empty values are left out."""
        fields = {
            WorkerField.HOSTNAME: self.hostname,
            WorkerField.IPADDRESS: self.ipaddress,
            WorkerField.PID: str(self.pid),
            WorkerField.REGISTERED: now,
            WorkerField.SCHEMA_VERSION: str(SCHEMA_VERSION),
            WorkerField.QUEUE: self.queue,
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

    def claim(self, task_id: str, now: str) -> ScriptCall:
        return script_call(
            "claim",
            keys=dict(task=self.keys.task(task_id), executing=self.executing, pending=self.pending),
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
            return Refused(task_id, failed(reason))
        if reply.status == ClaimReply.TOOBIG:
            reason = Reason.ARGS_TOO_LARGE.format(size=reply["size"], limit=self.limits.max_args_bytes)
            return Refused(task_id, failed(reason))
        detail = reply.values.get(TaskField.STATE) or reply.values.get("type")
        return Dropped(task_id, f"{reply.status} {detail}" if detail else reply.status)

    def _runnable(self, task_id: str, reply: Reply) -> Job | Refused:
        function, args = reply[TaskField.FUNCTION], reply[TaskField.ARGS]
        for field, text in ((TaskField.FUNCTION, function), (TaskField.ARGS, args)):
            if not is_utf8(text):
                return Refused(task_id, failed(Reason.NOT_UTF8.format(field=field)))
        try:
            limit = parse_memory_limit(reply[TaskField.VIRTUAL_MEMORY_LIMIT])
            parse_result_ttl(reply[TaskField.RESULT_TTL])
        except ValueError as exc:
            return Refused(task_id, failed(str(exc)))
        return Job(task_id, function, args, limit)

    def finish(self, task_id: str, outcome: Outcome, finished_at: str, default_ttl: int) -> ScriptCall:
        return script_call(
            "finish",
            keys=dict(task=self.keys.task(task_id), executing=self.executing),
            argv=dict(
                task_id=task_id,
                worker_id=self.worker_id,
                results_channel=self.keys.results,
                default_ttl=default_ttl,
                field_values=finish_fields(outcome, finished_at),
            ),
        )

    def unclaim(self, task_id: str) -> ScriptCall:
        return script_call(
            "unclaim",
            keys=dict(task=self.keys.task(task_id), executing=self.executing, pending=self.pending),
            argv=dict(task_id=task_id, worker_id=self.worker_id),
        )
