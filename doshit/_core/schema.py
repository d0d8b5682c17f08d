"""The doshit wire schema as Python constants.

GENERATED from schema/schema.json by schema/codegen.py: do not edit by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, NamedTuple, cast

SCHEMA_VERSION: Final = 2
"""The schema version this package writes into task and worker hashes."""

DEFAULT_PREFIX: Final = 'doshit'
"""Key prefix used when none is configured."""

DEFAULT_QUEUE: Final = 'default'
"""Queue used when none is configured."""

DEFAULT_URL: Final = 'redis://127.0.0.1:6379/0'
"""Redis URL used when neither an argument nor the environment names one."""

URL_SCHEMES: Final = ('redis', 'rediss', 'unix')
"""The URL schemes a Redis URL may have."""

RECONNECT_DELAYS: Final = (0.1, 0.5, 1.0, 2.0, 5.0)
"""Seconds a lost results subscription waits before each attempt to subscribe again; the last repeats."""

NAME_REGEX: Final = '^[^\\s:{}*?\\[\\]\\\\]+$'
"""Prefix and queue names: not empty, no whitespace, ':', braces, nor the glob characters * ? [ ] and backslash (they would widen the ACL key patterns of a prefix). A queue may not be named like a key kind (reserved_queues): the pending list of a queue named task would be the hash of the task with id pending."""

RESERVED_QUEUES: Final = ('task', 'worker')
"""Queue names that would collide with other keys of the prefix."""

MAX_ARGS_BYTES: Final = 16777216
"""Default largest args JSON, in bytes, a client submits and a worker runs."""

MAX_RESULT_BYTES: Final = 16777216
"""Default largest return value JSON, in bytes, a worker writes."""

MAX_DEPTH: Final = 100
"""Default deepest nesting of args a worker decodes."""

RESULT_TTL_MAX_SECONDS: Final = 2147483647
"""The largest result-ttl a task may ask for."""

ECHO_CHARS: Final = 1000
"""At most this much of a bad value is copied into error-exception or a log line."""

TASK_KEY: Final = '{prefix}:task:{task_id}'
"""hash: One task: what to run, its state, its result."""

PENDING_KEY: Final = '{prefix}:{queue}:pending'
"""list: Task ids waiting to run. Producers LPUSH, workers pop from the right, so the right end is the oldest (FIFO)."""

EXECUTING_KEY: Final = '{prefix}:{queue}:executing'
"""list: Task ids a worker has taken (BRPOPLPUSH from pending) and not yet finished."""

WORKER_KEY: Final = '{prefix}:worker:{worker_id}'
"""hash: One live worker. Expires unless its heartbeat renews it; deleted on clean shutdown."""

WORKERS_KEY: Final = '{prefix}:workers'
"""zset: Ids of the workers of this prefix, scored by when their worker hash expires (unix seconds, renewed with each heartbeat): an index to find the live workers without scanning keys. A member whose hash is gone is a worker that died."""

RESULTS_CHANNEL: Final = '{prefix}:results'
"""pub/sub channel: A worker PUBLISHes the finished task's hash key (not the bare id), e.g. doshit:task:ID."""

CMD_CHANNEL: Final = '{prefix}:cmd'
"""pub/sub channel: Commands to every worker of this prefix."""

KILL_COMMAND: Final = 'task:kill:{task_key}'
"""The worker running that task kills it (SIGINT, then SIGTERM, then SIGKILL, as kill_escalation says) and finishes it failed."""

KILL_ALL_COMMAND: Final = 'task:kill:all'
"""Every worker kills every task it runs."""

TASK_ID_REGEX: Final = '^[^\\s\\x00-\\x1f\\x7f]{1,256}$'
"""1 to 256 characters, no whitespace or control characters. Generated ids are uuid4 strings; legacy Python used uuid1."""

TIMESTAMP_FORMAT: Final = '%Y-%m-%dT%H:%M:%S.%fZ'
"""UTC, six fractional digits, literal Z. Used by every *-created field and inside datetime values."""

TIMESTAMP_REGEX: Final = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}Z$'

DATETIME_TYPE_KEY: Final = 'type'
DATETIME_TYPE_VALUE: Final = 'datetime'
DATETIME_VALUE_KEY: Final = 'value'
"""A datetime inside args or result-value is the JSON object {"type": "datetime", "value": TIMESTAMP}."""

KILL_ESCALATION: Final = (('SIGINT', 10, 0.1), ('SIGTERM', 1, 1.0), ('SIGKILL', 1, 0.0))
"""(signal name, times, seconds to wait after each): How a worker kills a running task's process group: each signal `times` times, waiting `wait_seconds` after each, until the task has ended. SIGINT is repeated for a second because a child ignores it outside a task: one that arrives while the task is still being handed over would be lost."""

HEARTBEAT_INTERVAL: Final = 5
"""Default seconds between worker heartbeats."""

HEARTBEAT_EXPIRY_INTERVALS: Final = 3
"""A worker hash expires this many heartbeat intervals after the last heartbeat."""

RESULT_TTL: Final = 604800
"""Default seconds a finished task hash is kept when it has no result-ttl field."""


class Env:
    """Names of the environment variables clients and workers read."""

    URL: Final = 'DOSHIT_REDIS_URL'
    """added: redis://, rediss:// or unix:// URL, with user and password if needed."""

    REDIS_JSON: Final = 'DOSHIT_REDIS'
    """legacy: A JSON object of connection settings (redis-py keyword arguments), used when there is no URL."""

    PREFIX: Final = 'DOSHIT_APP_PREFIX'
    """legacy: The key prefix."""

    QUEUE: Final = 'DOSHIT_QUEUE'
    """legacy: The queue."""

    VIRTUAL_MEMORY_LIMIT: Final = 'DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT'
    """legacy: Default virtual memory limit (bytes) for submitted tasks."""

class State:
    """Values of the task hash's state field."""

    PENDING: Final = 'pending'
    """Submitted; its id is on the pending list."""

    EXECUTING: Final = 'executing'
    """A worker took it; its id is on the executing list and `worker` names the worker."""

    FINISHED: Final = 'finished'
    """Terminal. `result` says successful or failed. A finished task never changes again."""

class Result:
    """Values of the task hash's result field."""

    SUCCESSFUL: Final = 'successful'
    """The function returned; result-value holds its JSON (always written, falsy values included)."""

    FAILED: Final = 'failed'
    """error-reason says why in one line; error-exception holds the traceback when there is one."""

class TaskField:
    """Field names of the task hash."""

    FUNCTION: Final = 'function'
    """string, by producer: The registered name of the function to run."""

    STATE: Final = 'state'
    """enum, by producer, worker, cancel: pending, executing or finished."""

    ARGS: Final = 'args'
    """json-object, by producer: JSON object of named arguments. Written compact; legacy producers pretty-printed it with indent 2, which readers accept."""

    PENDING_CREATED: Final = 'pending-created'
    """timestamp, by producer: When it was submitted. The legacy Node producer omitted it."""

    EXECUTING_CREATED: Final = 'executing-created'
    """timestamp, by worker: When a worker took it."""

    FINISHED_CREATED: Final = 'finished-created'
    """timestamp, by worker, cancel: When it finished."""

    RESULT: Final = 'result'
    """enum, by worker, cancel: successful or failed."""

    RESULT_VALUE: Final = 'result-value'
    """json, by worker: JSON of the return value, on success. Always written, also for 0, "", false, [], {} and null."""

    ERROR_REASON: Final = 'error-reason'
    """string, by worker, cancel: One readable line on failure, e.g. `ValueError: bad input` or `task was pubsub killed`."""

    ERROR_EXCEPTION: Final = 'error-exception'
    """string, by worker: The traceback or other detail text, on failure."""

    USERNAME: Final = 'username'
    """string, by producer: Optional free text naming who submitted it."""

    VIRTUAL_MEMORY_LIMIT: Final = 'virtual-memory-limit'
    """integer, by producer: Optional bytes; the worker sets RLIMIT_AS to it for the task's process."""

    SCHEMA_VERSION: Final = 'schema-version'
    """integer, by producer: The schema version the producer wrote. Absent on tasks written by legacy producers."""

    QUEUE: Final = 'queue'
    """string, by producer, worker: The queue the task was pushed on; the worker records the queue it took it from."""

    WORKER: Final = 'worker'
    """string, by worker: Id of the worker that took the task; only that worker may finish it."""

    RESULT_TTL: Final = 'result-ttl'
    """integer, by producer: Optional seconds to keep the hash once finished (0 keeps it forever), at most limits.result_ttl_max_seconds. Without it the worker's default applies."""

    KILL_REQUESTED: Final = 'kill-requested'
    """timestamp, by cancel: When a client asked to kill the task while it was executing. The kill command also goes out on the cmd channel; a worker that was not listening at that moment finds this mark when it listens again."""

class WorkerField:
    """Field names of the worker hash."""

    HOSTNAME: Final = 'hostname'
    """string: The worker machine's host name."""

    IPADDRESS: Final = 'ipaddress'
    """string: The worker machine's address, as far as it can tell."""

    PID: Final = 'pid'
    """integer: The worker process id."""

    REGISTERED: Final = 'registered'
    """timestamp: When the worker started."""

    SCHEMA_VERSION: Final = 'schema-version'
    """integer: The schema version the worker speaks."""

    QUEUE: Final = 'queue'
    """string: The queue it serves."""

    FUNCTIONS: Final = 'functions'
    """json-array: The registered function names it runs."""

    POOL: Final = 'pool'
    """enum: process (long-lived child processes) or inline (in the worker process)."""

    CONCURRENCY: Final = 'concurrency'
    """integer: How many tasks it runs at once."""

    HEARTBEAT: Final = 'heartbeat'
    """timestamp: Renewed every heartbeat-interval seconds, together with the key's expiry."""

    HEARTBEAT_INTERVAL: Final = 'heartbeat-interval'
    """integer: Seconds between heartbeats. The key expires 3 intervals after the last one, so a worker that died hard disappears."""

    VERSION: Final = 'version'
    """string: The doshit package version of the worker."""


class Reason:
    """error-reason texts; {placeholders} are filled with str.format."""

    PUBSUB_KILLED: Final = 'task was pubsub killed'

    TERMINATED: Final = 'task / process was killed before completion'

    RETURNCODE: Final = "task's process returncode was {code}"

    CANCELLED: Final = 'task was cancelled before it started'

    EMPTY_FUNCTION: Final = 'task has no function name'

    BAD_STATE: Final = "task state was '{state}' when a worker took it, expected 'pending'"

    UNKNOWN_FUNCTION: Final = "no function named '{function}' is registered on this worker"

    ARGS_NOT_JSON: Final = 'args is not valid JSON: {detail}'

    ARGS_NOT_OBJECT: Final = 'args must be a JSON object of named arguments, got {kind}'

    ARGS_BIND: Final = 'arguments do not match {function}{signature}: {detail}'

    RESULT_ENCODE: Final = 'the return value of {function} cannot be stored as JSON: {detail}'

    MEMORY_LIMIT_INLINE: Final = 'virtual-memory-limit needs the process pool; this worker runs --pool inline'

    BAD_MEMORY_LIMIT: Final = "virtual-memory-limit must be a positive integer number of bytes, got '{value}'"

    BAD_RESULT_TTL: Final = "result-ttl must be a whole number of seconds from 0 to {limit}, got '{value}'"

    ARGS_TOO_LARGE: Final = "args are {size} bytes, more than this worker's limit of {limit}"

    RESULT_TOO_LARGE: Final = "the return value of {function} is {size} bytes as JSON, more than this worker's limit of {limit}"

    TOO_DEEP: Final = "{what} nests deeper than this worker's limit of {limit} levels"

    NOT_UTF8: Final = '{field} is not valid UTF-8'

    WORKER_ERROR: Final = 'worker error: {detail}'

    WRITE_FAILED: Final = "the worker could not write this task's result: {detail}"


LEGACY_TASK_FIELDS: Final = ('function', 'state', 'args', 'pending-created', 'executing-created', 'finished-created', 'result', 'result-value', 'error-reason', 'error-exception', 'username', 'virtual-memory-limit')
"""Task fields the legacy clients know; every other field is an addition."""


class TaskFields:
    """One property per task hash field, decoded by ``_decoded(field, type)``, which a subclass provides."""

    __slots__ = ()

    def _decoded(self, field: str, kind: str) -> Any:
        raise NotImplementedError

    @property
    def function(self) -> str | None:
        """function (string): The registered name of the function to run."""
        return cast('str | None', self._decoded('function', 'string'))

    @property
    def state(self) -> str | None:
        """state (enum): pending, executing or finished."""
        return cast('str | None', self._decoded('state', 'enum'))

    @property
    def args(self) -> dict[str, Any]:
        """args (json-object): JSON object of named arguments. Written compact; legacy producers pretty-printed it with indent 2, which readers accept."""
        return cast('dict[str, Any]', self._decoded('args', 'json-object'))

    @property
    def pending_created(self) -> datetime | None:
        """pending-created (timestamp): When it was submitted. The legacy Node producer omitted it."""
        return cast('datetime | None', self._decoded('pending-created', 'timestamp'))

    @property
    def executing_created(self) -> datetime | None:
        """executing-created (timestamp): When a worker took it."""
        return cast('datetime | None', self._decoded('executing-created', 'timestamp'))

    @property
    def finished_created(self) -> datetime | None:
        """finished-created (timestamp): When it finished."""
        return cast('datetime | None', self._decoded('finished-created', 'timestamp'))

    @property
    def result(self) -> str | None:
        """result (enum): successful or failed."""
        return cast('str | None', self._decoded('result', 'enum'))

    @property
    def result_value(self) -> Any:
        """result-value (json): JSON of the return value, on success. Always written, also for 0, "", false, [], {} and null."""
        return self._decoded('result-value', 'json')

    @property
    def error_reason(self) -> str | None:
        """error-reason (string): One readable line on failure, e.g. `ValueError: bad input` or `task was pubsub killed`."""
        return cast('str | None', self._decoded('error-reason', 'string'))

    @property
    def error_exception(self) -> str | None:
        """error-exception (string): The traceback or other detail text, on failure."""
        return cast('str | None', self._decoded('error-exception', 'string'))

    @property
    def username(self) -> str | None:
        """username (string): Optional free text naming who submitted it."""
        return cast('str | None', self._decoded('username', 'string'))

    @property
    def virtual_memory_limit(self) -> int | None:
        """virtual-memory-limit (integer): Optional bytes; the worker sets RLIMIT_AS to it for the task's process."""
        return cast('int | None', self._decoded('virtual-memory-limit', 'integer'))

    @property
    def schema_version(self) -> int | None:
        """schema-version (integer): The schema version the producer wrote. Absent on tasks written by legacy producers."""
        return cast('int | None', self._decoded('schema-version', 'integer'))

    @property
    def queue(self) -> str | None:
        """queue (string): The queue the task was pushed on; the worker records the queue it took it from."""
        return cast('str | None', self._decoded('queue', 'string'))

    @property
    def worker(self) -> str | None:
        """worker (string): Id of the worker that took the task; only that worker may finish it."""
        return cast('str | None', self._decoded('worker', 'string'))

    @property
    def result_ttl(self) -> int | None:
        """result-ttl (integer): Optional seconds to keep the hash once finished (0 keeps it forever), at most limits.result_ttl_max_seconds. Without it the worker's default applies."""
        return cast('int | None', self._decoded('result-ttl', 'integer'))

    @property
    def kill_requested(self) -> datetime | None:
        """kill-requested (timestamp): When a client asked to kill the task while it was executing. The kill command also goes out on the cmd channel; a worker that was not listening at that moment finds this mark when it listens again."""
        return cast('datetime | None', self._decoded('kill-requested', 'timestamp'))


class ScriptSpec(NamedTuple):
    """One Lua script: its source, its SHA1 (for EVALSHA), the names of its KEYS and ARGV (a name ending in '...' takes the rest), and its reply: integer codes, tagged lists or words, by name."""

    name: str
    source: str
    sha: str
    keys: tuple[str, ...]
    argv: tuple[str, ...]
    codes: Mapping[int, str]
    tagged: Mapping[str, tuple[str, ...]]
    words: tuple[str, ...]


SCRIPTS: Final[dict[str, ScriptSpec]] = {
    'submit': ScriptSpec(
        name='submit',
        source="-- submit: create a task hash and queue its id, atomically.\n-- KEYS: task, pending\n-- ARGV: task_id, field_values...\n-- Returns 1 when queued, 0 when the task hash already exists (then nothing is written).\nif redis.call('EXISTS', KEYS[1]) == 1 then\n  return 0\nend\nredis.call('HSET', KEYS[1], unpack(ARGV, 2))\nredis.call('LPUSH', KEYS[2], ARGV[1])\nreturn 1\n",
        sha='30f29da238cb1be2c00617f318fc41a41f5e2006',
        keys=('task', 'pending'),
        argv=('task_id', 'field_values...'),
        codes={1: 'queued', 0: 'exists'},
        tagged={},
        words=(),
    ),
    'claim': ScriptSpec(
        name='claim',
        source="-- claim: a worker takes a task whose id it has just moved from pending to executing.\n-- KEYS: task, executing, pending\n-- ARGV: task_id, worker_id, queue, now, max_args_bytes\n-- Returns one of these, each followed by the pending list's length (so the worker knows whether\n-- to take more at once or wait):\n--   {'run', function, args, virtual-memory-limit, result-ttl, n}  claimed; run it\n--   {'invalid', state, function, n}    claimed, but it cannot run; the worker fails it\n--   {'toobig', function, size, n}      claimed, but its args are over max_args_bytes; the worker fails it\n--   {'skip', state, n}                 another worker runs it or it is finished; id dropped\n--   {'missing', n}                     no such key; id dropped\n--   {'wrongtype', type, n}             the key is not a hash (not a task); id dropped, key untouched\n-- Every check comes before the first write, so an error leaves nothing half done.\nlocal backlog = redis.call('LLEN', KEYS[3])\nlocal kind = redis.call('TYPE', KEYS[1])['ok']\nif kind ~= 'hash' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  if kind == 'none' then\n    return {'missing', backlog}\n  end\n  return {'wrongtype', kind, backlog}\nend\nlocal fields = redis.call('HMGET', KEYS[1], 'state', 'function', 'args', 'virtual-memory-limit', 'result-ttl')\nlocal state, fn, args, vml, ttl = fields[1], fields[2], fields[3], fields[4], fields[5]\nif state == 'executing' or state == 'finished' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  return {'skip', state, backlog}\nend\nredis.call('HSET', KEYS[1], 'state', 'executing', 'executing-created', ARGV[4],\n  'worker', ARGV[2], 'queue', ARGV[3])\nif state ~= 'pending' or not fn or fn == '' then\n  return {'invalid', state or '', fn or '', backlog}\nend\nif args and #args > tonumber(ARGV[5]) then\n  return {'toobig', fn, #args, backlog}\nend\nreturn {'run', fn, args or '', vml or '', ttl or '', backlog}\n",
        sha='9ac6b8011d9406c1900bcf4a52e25207e3a29c1d',
        keys=('task', 'executing', 'pending'),
        argv=('task_id', 'worker_id', 'queue', 'now', 'max_args_bytes'),
        codes={},
        tagged={'run': ('function', 'args', 'virtual-memory-limit', 'result-ttl', 'backlog'), 'invalid': ('state', 'function', 'backlog'), 'toobig': ('function', 'size', 'backlog'), 'skip': ('state', 'backlog'), 'missing': ('backlog',), 'wrongtype': ('type', 'backlog')},
        words=(),
    ),
    'finish': ScriptSpec(
        name='finish',
        source="-- finish: record a task's result, drop its id from executing, publish its hash key.\n-- KEYS: task, executing\n-- ARGV: task_id, worker_id, results_channel, default_ttl, field_values...\n-- Returns 1 finished and published, 0 the hash is gone (its id is dropped from executing), -1 the\n-- task is no longer this worker's to finish (state is not executing, or another worker took it);\n-- then nothing is touched, not even executing, whose entry is no longer this worker's either; -2 the\n-- key is not a hash (its id is dropped from executing, the key left alone).\n-- Every check comes before the first write, so an error leaves nothing half done.\nlocal kind = redis.call('TYPE', KEYS[1])['ok']\nif kind ~= 'hash' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  if kind == 'none' then\n    return 0\n  end\n  return -2\nend\nlocal owner = redis.call('HMGET', KEYS[1], 'state', 'worker', 'result-ttl')\nif owner[1] ~= 'executing' or owner[2] ~= ARGV[2] then\n  return -1\nend\n-- The task's own result-ttl when it is a plain number EXPIRE takes (the worker refused a task whose\n-- result-ttl was out of range when it claimed it; this only guards against a later change).\nlocal ttl = tonumber(ARGV[4])\nif owner[3] and string.match(owner[3], '^%d+$') and #owner[3] <= 10 then\n  ttl = tonumber(owner[3])\nend\nredis.call('LREM', KEYS[2], 1, ARGV[1])\nredis.call('HSET', KEYS[1], unpack(ARGV, 5))\nif ttl > 0 then\n  redis.call('EXPIRE', KEYS[1], ttl)\nend\nredis.call('PUBLISH', ARGV[3], KEYS[1])\nreturn 1\n",
        sha='6ee07dff181cfe90a21f3474b2806242759f5f91',
        keys=('task', 'executing'),
        argv=('task_id', 'worker_id', 'results_channel', 'default_ttl', 'field_values...'),
        codes={1: 'finished', 0: 'gone', -1: 'not_owner', -2: 'wrongtype'},
        tagged={},
        words=(),
    ),
    'unclaim': ScriptSpec(
        name='unclaim',
        source="-- unclaim: give back a task this worker claimed but never started (it was waiting for a free\n-- slot when the worker shut down). It goes to the right end of pending, so it is taken next.\n-- KEYS: task, executing, pending\n-- ARGV: task_id, worker_id\n-- Returns 1 when given back, 0 when the task was not this worker's to give back.\nlocal fields = redis.call('HMGET', KEYS[1], 'state', 'worker')\nif fields[1] ~= 'executing' or fields[2] ~= ARGV[2] then\n  return 0\nend\nredis.call('HSET', KEYS[1], 'state', 'pending')\nredis.call('HDEL', KEYS[1], 'executing-created', 'worker')\nredis.call('LREM', KEYS[2], 1, ARGV[1])\nredis.call('RPUSH', KEYS[3], ARGV[1])\nreturn 1\n",
        sha='d19af9c6364cc29779dcbae6855521c9784e4d33',
        keys=('task', 'executing', 'pending'),
        argv=('task_id', 'worker_id'),
        codes={1: 'given_back', 0: 'not_owner'},
        tagged={},
        words=(),
    ),
    'cancel': ScriptSpec(
        name='cancel',
        source="-- cancel: stop a task. One that is neither executing nor finished (pending, or a state no worker\n-- would run) is taken off its queue and finished failed at once; for an executing one the kill is\n-- marked in the hash (kill-requested) and the kill command goes to the workers.\n-- KEYS: task, pending\n-- ARGV: task_id, results_channel, cmd_channel, kill_command, now, reason, default_ttl\n-- Returns 'cancelled', 'killing', 'finished' or 'missing' (no task hash).\n-- Every check comes before the first write, so an error leaves nothing half done.\nif redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then\n  return 'missing'\nend\nlocal fields = redis.call('HMGET', KEYS[1], 'state', 'result-ttl')\nlocal state, own = fields[1], fields[2]\nif not state then\n  return 'missing'\nend\nif state == 'finished' then\n  return 'finished'\nend\nif state == 'executing' then\n  redis.call('HSET', KEYS[1], 'kill-requested', ARGV[5])\n  redis.call('PUBLISH', ARGV[3], ARGV[4])\n  return 'killing'\nend\nlocal ttl = tonumber(ARGV[7])\nif own and string.match(own, '^%d+$') and #own <= 10 then\n  ttl = tonumber(own)\nend\nredis.call('LREM', KEYS[2], 0, ARGV[1])\nredis.call('HSET', KEYS[1], 'state', 'finished', 'result', 'failed',\n  'error-reason', ARGV[6], 'finished-created', ARGV[5])\nif ttl > 0 then\n  redis.call('EXPIRE', KEYS[1], ttl)\nend\nredis.call('PUBLISH', ARGV[2], KEYS[1])\nreturn 'cancelled'\n",
        sha='16a7084e48a96196894023636acca7c5fd972fe5',
        keys=('task', 'pending'),
        argv=('task_id', 'results_channel', 'cmd_channel', 'kill_command', 'now', 'reason', 'default_ttl'),
        codes={},
        tagged={},
        words=('cancelled', 'killing', 'finished', 'missing'),
    ),
}
"""The atomic operations, one Lua script each (schema/scripts/)."""


class SubmitReply:
    """What the submit script's reply says (Reply.status)."""

    QUEUED: Final = 'queued'

    EXISTS: Final = 'exists'


class ClaimReply:
    """What the claim script's reply says (Reply.status)."""

    RUN: Final = 'run'

    INVALID: Final = 'invalid'

    TOOBIG: Final = 'toobig'

    SKIP: Final = 'skip'

    MISSING: Final = 'missing'

    WRONGTYPE: Final = 'wrongtype'


class FinishReply:
    """What the finish script's reply says (Reply.status)."""

    FINISHED: Final = 'finished'

    GONE: Final = 'gone'

    NOT_OWNER: Final = 'not_owner'

    WRONGTYPE: Final = 'wrongtype'


class UnclaimReply:
    """What the unclaim script's reply says (Reply.status)."""

    GIVEN_BACK: Final = 'given_back'

    NOT_OWNER: Final = 'not_owner'


class CancelReply:
    """What the cancel script's reply says (Reply.status)."""

    CANCELLED: Final = 'cancelled'

    KILLING: Final = 'killing'

    FINISHED: Final = 'finished'

    MISSING: Final = 'missing'
