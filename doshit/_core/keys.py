"""The one place that turns names into Redis keys, channel names and commands."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._errors import ConfigError
from .schema import (
    CLUSTER_PREFIX_TAGGED,
    CLUSTER_QUEUE_TAGGED,
    CLUSTER_TAG,
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


def _tag(name: str) -> str:
    """A name as a Redis Cluster hash tag: only it decides the slot of a key that holds it."""
    return f"{CLUSTER_TAG[0]}{name}{CLUSTER_TAG[1]}"


@dataclass(frozen=True)
class Keys:
    """Keys of one prefix; the queue-specific ones take the queue name. With ``cluster`` they follow
    the Redis Cluster layout (``cluster`` in schema.json): a queue's keys carry the queue as hash tag,
    the prefix-wide ones the prefix, and a task id starts with its queue's tag, so that every key one
    script touches shares a hash slot."""

    prefix: str
    cluster: bool = False

    def __post_init__(self) -> None:
        _check_name("prefix", self.prefix)

    def _key(self, pattern: str, **values: str) -> str:
        """A key of schema.json from its pattern; on a cluster with the queue or the prefix as hash
        tag where the layout (``cluster`` in schema.json) says so."""
        prefix = self.prefix
        if self.cluster:
            if pattern in CLUSTER_QUEUE_TAGGED:
                values["queue"] = _tag(values["queue"])
            if pattern in CLUSTER_PREFIX_TAGGED:
                prefix = _tag(prefix)
        return pattern.format(prefix=prefix, **values)

    def id_tag(self, queue: str) -> str:
        """What starts the id of every task of the queue: its hash tag and ':' on a cluster, else nothing."""
        return f"{_tag(check_queue(queue))}:" if self.cluster else ""

    def task_id_for(self, queue: str, task_id: str) -> str:
        """The id a task of this queue given ``task_id`` is stored under: ``task_id`` itself, on a
        cluster with the queue's tag put in front unless it starts with it; ValueError when it breaks
        the id rule."""
        tag = self.id_tag(queue)
        if tag and not (isinstance(task_id, str) and task_id.startswith(tag)):
            task_id = tag + check_task_id(task_id)
        return check_task_id(task_id)

    def queue_of_id(self, task_id: str) -> str | None:
        """On a cluster, the queue whose tag starts the id (None when none does)."""
        opening, closing = CLUSTER_TAG
        name, found, _ = task_id[len(opening) :].partition(f"{closing}:")
        return name if self.cluster and task_id.startswith(opening) and found and valid_queue(name) else None

    def task(self, task_id: str) -> str:
        return TASK_KEY.format(prefix=self.prefix, task_id=task_id)

    def task_id(self, task_key: str) -> str | None:
        """The id inside a task hash key of this prefix, else None."""
        head = TASK_KEY.format(prefix=self.prefix, task_id="")
        return task_key[len(head) :] if task_key.startswith(head) and len(task_key) > len(head) else None

    def pending(self, queue: str) -> str:
        return self._key(PENDING_KEY, queue=check_queue(queue))

    def executing(self, queue: str) -> str:
        return self._key(EXECUTING_KEY, queue=check_queue(queue))

    def scheduled(self, queue: str) -> str:
        return self._key(SCHEDULED_KEY, queue=check_queue(queue))

    def failed(self, queue: str) -> str:
        return self._key(FAILED_KEY, queue=check_queue(queue))

    def recovery(self, queue: str) -> str:
        return self._key(RECOVERY_KEY, queue=check_queue(queue))

    def scheduled_command(self, queue: str) -> str:
        """The command that tells the queue's workers a task was scheduled."""
        return SCHEDULED_COMMAND.format(queue=check_queue(queue))

    def worker(self, worker_id: str) -> str:
        return self._key(WORKER_KEY, worker_id=worker_id)

    @property
    def workers(self) -> str:
        return self._key(WORKERS_KEY)

    @property
    def stats(self) -> str:
        return self._key(STATS_KEY)

    @property
    def stats_durations(self) -> str:
        return self._key(STATS_DURATIONS_KEY)

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
