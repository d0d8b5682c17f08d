"""The one place that turns names into Redis keys, channel names and commands."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._errors import ConfigError
from .schema import (
    CMD_CHANNEL,
    EXECUTING_KEY,
    FAILED_KEY,
    KILL_ALL_COMMAND,
    KILL_COMMAND,
    NAME_REGEX,
    PENDING_KEY,
    RECOVERY_KEY,
    RESERVED_QUEUES,
    RESULTS_CHANNEL,
    SCHEDULED_COMMAND,
    SCHEDULED_KEY,
    STATS_DURATIONS_KEY,
    STATS_KEY,
    TASK_ID_REGEX,
    TASK_KEY,
    WORKER_KEY,
    WORKERS_KEY,
)
from .text import is_utf8, shown

NO_WORKER = "-"
"""Stands for the worker of a task that names none, in a script's KEYS (no such worker hash exists)."""

_TASK_ID = re.compile(TASK_ID_REGEX)
_NAME = re.compile(NAME_REGEX)


def valid_task_id(task_id: object) -> bool:
    """The schema's id rule: 1 to 256 characters, no whitespace or control characters, valid UTF-8."""
    return isinstance(task_id, str) and bool(_TASK_ID.fullmatch(task_id)) and is_utf8(task_id)


def check_task_id(task_id: str) -> str:
    """The id itself, or ValueError saying what is wrong with it."""
    if not valid_task_id(task_id):
        shown_id = shown(task_id) if isinstance(task_id, str) else repr(task_id)
        raise ValueError(f"task id must be 1 to 256 characters without whitespace or control characters: {shown_id}")
    return task_id


def valid_queue(name: object) -> bool:
    """A queue name doshit accepts (read from a hash or an index anyone may have written)."""
    if not isinstance(name, str) or not is_utf8(name):
        return False
    try:
        check_queue(name)
    except ConfigError:
        return False
    return True


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{kind} must be a non-empty string without whitespace, ':', braces or * ? [ ] \\: {name!r}")
    return name


def check_queue(queue: str) -> str:
    """The queue name itself, or ConfigError saying what is wrong with it."""
    _check_name("queue", queue)
    if queue in RESERVED_QUEUES:
        raise ConfigError(
            f"queue may not be named {queue!r}: its keys would collide with the {queue} keys "
            f"(reserved names: {', '.join(RESERVED_QUEUES)})"
        )
    return queue


@dataclass(frozen=True)
class Keys:
    """Keys of one prefix; the queue-specific ones take the queue name."""

    prefix: str

    def __post_init__(self) -> None:
        _check_name("prefix", self.prefix)

    def task(self, task_id: str) -> str:
        return TASK_KEY.format(prefix=self.prefix, task_id=task_id)

    def task_id(self, task_key: str) -> str | None:
        """The id inside a task hash key of this prefix, else None."""
        head = TASK_KEY.format(prefix=self.prefix, task_id="")
        return task_key[len(head) :] if task_key.startswith(head) and len(task_key) > len(head) else None

    def pending(self, queue: str) -> str:
        return PENDING_KEY.format(prefix=self.prefix, queue=check_queue(queue))

    def executing(self, queue: str) -> str:
        return EXECUTING_KEY.format(prefix=self.prefix, queue=check_queue(queue))

    def scheduled(self, queue: str) -> str:
        return SCHEDULED_KEY.format(prefix=self.prefix, queue=check_queue(queue))

    def failed(self, queue: str) -> str:
        return FAILED_KEY.format(prefix=self.prefix, queue=check_queue(queue))

    def recovery(self, queue: str) -> str:
        return RECOVERY_KEY.format(prefix=self.prefix, queue=check_queue(queue))

    def scheduled_command(self, queue: str) -> str:
        """The command that tells the queue's workers a task was scheduled."""
        return SCHEDULED_COMMAND.format(queue=check_queue(queue))

    def worker(self, worker_id: str) -> str:
        return WORKER_KEY.format(prefix=self.prefix, worker_id=worker_id)

    @property
    def workers(self) -> str:
        return WORKERS_KEY.format(prefix=self.prefix)

    @property
    def stats(self) -> str:
        return STATS_KEY.format(prefix=self.prefix)

    @property
    def stats_durations(self) -> str:
        return STATS_DURATIONS_KEY.format(prefix=self.prefix)

    @property
    def results(self) -> str:
        return RESULTS_CHANNEL.format(prefix=self.prefix)

    @property
    def cmd(self) -> str:
        return CMD_CHANNEL.format(prefix=self.prefix)

    def kill(self, task_id: str) -> str:
        return KILL_COMMAND.format(task_key=self.task(task_id))

    kill_all = KILL_ALL_COMMAND

    def read_command(self, command: str) -> KillTask | KillAll | Scheduled | None:
        """What a message on the cmd channel asks for; None for anything this version does not know."""
        if command == KILL_ALL_COMMAND:
            return KillAll()
        head, _, tail = SCHEDULED_COMMAND.partition("{queue}")
        if command.startswith(head) and command.endswith(tail) and len(command) > len(head) + len(tail):
            return Scheduled(command[len(head) : len(command) - len(tail)])
        head = KILL_COMMAND.format(task_key="")
        task_id = self.task_id(command[len(head) :]) if command.startswith(head) else None
        return None if task_id is None else KillTask(task_id)


@dataclass(frozen=True)
class KillTask:
    """The kill command for one task."""

    task_id: str


@dataclass(frozen=True)
class KillAll:
    """The command that kills every task every worker runs."""


@dataclass(frozen=True)
class Scheduled:
    """A task was scheduled on this queue: its workers look again at when the next one is due."""

    queue: str
