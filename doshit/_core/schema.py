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

URL_SCHEMES: Final = ('redis', 'rediss', 'unix', 'redis+sentinel', 'redis+cluster')
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

SUBMIT_MANY_MAX: Final = 10000
"""The most tasks one submit_many call writes (one script call, atomic)."""

TASK_KEY: Final = '{prefix}:task:{task_id}'
"""hash: One task: what to run, its state, its result."""

PENDING_KEY: Final = '{prefix}:{queue}:pending'
"""list: Task ids waiting to run. Producers LPUSH, workers pop from the right, so the right end is the oldest (FIFO)."""

EXECUTING_KEY: Final = '{prefix}:{queue}:executing'
"""list: Task ids a worker has taken (BRPOPLPUSH from pending) and not yet finished."""

WORKER_KEY: Final = '{prefix}:worker:{worker_id}'
"""hash: One live worker. Expires unless its heartbeat renews it; deleted on clean shutdown."""

SCHEDULED_KEY: Final = '{prefix}:{queue}:scheduled'
"""zset: Task ids waiting for their time (delayed tasks, and retries after a failure), scored by when they are due (unix milliseconds). Workers move the due ones to pending; legacy workers never see them."""

FAILED_KEY: Final = '{prefix}:{queue}:failed'
"""zset: Ids of the queue's failed tasks, scored by when they failed (unix milliseconds): to list, count and requeue them without scanning keys. Workers take off the ids whose hash has expired."""

RECOVERY_KEY: Final = '{prefix}:{queue}:recovery'
"""string: Held (SET NX PX) by the worker that looks for the queue's orphaned tasks this round, so one worker does it at a time; it expires by itself."""

WORKERS_KEY: Final = '{prefix}:workers'
"""zset: Ids of the workers of this prefix, scored by when their worker hash expires (unix seconds, renewed with each heartbeat): an index to find the live workers without scanning keys. A member whose hash is gone is a worker that died."""

STATS_KEY: Final = '{prefix}:stats'
"""hash: Task counts since the prefix began, for metrics: field [queue, function, outcome] as compact JSON (outcome successful, failed, retried or recovered; function empty for recovered, (unknown) for a name the worker has not registered), value a count. Workers add what they did with each heartbeat (HINCRBY), never on a task's path."""

STATS_DURATIONS_KEY: Final = '{prefix}:stats:durations'
"""hash: Run times for metrics: field [queue, function, le] as compact JSON, value the runs whose duration fell in that bucket only (not cumulative; le is a bound of stats_buckets), and [queue, function, "sum"] the seconds of all runs (HINCRBYFLOAT). Added with each heartbeat."""

RESULTS_CHANNEL: Final = '{prefix}:results'
"""pub/sub channel: A worker PUBLISHes the finished task's hash key (not the bare id), e.g. doshit:task:ID."""

CMD_CHANNEL: Final = '{prefix}:cmd'
"""pub/sub channel: Commands to every worker of this prefix."""

KILL_COMMAND: Final = 'task:kill:{task_key}'
"""The worker running that task kills it (SIGINT, then SIGTERM, then SIGKILL, as kill_escalation says) and finishes it failed."""

KILL_ALL_COMMAND: Final = 'task:kill:all'
"""Every worker kills every task it runs."""

SCHEDULED_COMMAND: Final = 'task:scheduled:{queue}'
"""A task was scheduled on the queue: its workers look again at when the next one is due. Legacy workers ignore it."""

CLUSTER_SCHEME: Final = 'redis+cluster'
"""The key layout on Redis Cluster (a redis+cluster:// URL), where every key one script touches must share a hash slot. A key of a queue is written with the queue name as a hash tag ({prefix}:{<queue>}:pending, e.g. doshit:{default}:pending); a key of the whole prefix with the prefix as a hash tag ({<prefix>}:workers); the task key keeps its pattern and the task id starts with its queue's tag ({<queue>}:<uuid4>, so doshit:task:{default}:<uuid4> sits in the queue's slot and an id alone still finds its task). A chosen id that does not start with its queue's tag gets it put in front. Each queue lives on one shard; queues spread over the shards. The channels stay classic pub/sub (a cluster carries a PUBLISH to every node). Legacy clients know nothing of this layout: they keep using a single Redis or a Sentinel."""

CLUSTER_DEFAULT_PORT: Final = 6379
CLUSTER_QUEUE_TAGGED: Final = ('{prefix}:{queue}:pending', '{prefix}:{queue}:executing', '{prefix}:{queue}:scheduled', '{prefix}:{queue}:failed', '{prefix}:{queue}:recovery')
"""The patterns of the keys written with the queue as hash tag on Redis Cluster."""

CLUSTER_PREFIX_TAGGED: Final = ('{prefix}:worker:{worker_id}', '{prefix}:workers', '{prefix}:stats', '{prefix}:stats:durations')
"""The patterns of the keys written with the prefix as hash tag on Redis Cluster."""

CLUSTER_TAG: Final = ('{', '}')
"""What opens and closes a hash tag."""

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

STATS_BUCKETS: Final = ('0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '300', '+Inf')
"""Upper bounds (seconds, as written in the stats_durations fields) of the run time buckets."""


class Env:
    """Names of the environment variables clients and workers read."""

    URL: Final = 'DOSHIT_REDIS_URL'
    """added: redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// URL, with user and password if needed."""

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

    SCHEDULED: Final = 'scheduled'
    """Waiting for its time in the scheduled set: a delayed task, or a retry after a failure. Legacy readers see a task that is not finished yet."""

    FINISHED: Final = 'finished'
    """Terminal for its worker: `result` says successful or failed. Only a requeue (of a failed task, by a client) makes it pending again."""

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
    """enum, by producer, worker, cancel: pending, executing or finished; scheduled (added) while it waits for its time."""

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

    RETRIES: Final = 'retries'
    """integer, by producer: Optional: how many more times the task may run after a failure, a time limit or a dead worker. Without it the function's retry policy applies to failures, and the worker's --recovery-retries (default 2) to a dead worker."""

    TIMEOUT: Final = 'timeout'
    """integer, by producer: Optional seconds the task may run before the worker kills it (task exceeded its time limit). Without it the function's or the worker's default applies."""

    ATTEMPT: Final = 'attempt'
    """integer, by worker: Which run this is: the claim counts it up (1 for the first). A task given back unstarted at shutdown, or never claimed, does not count."""

    SCHEDULED_FOR: Final = 'scheduled-for'
    """timestamp, by producer, worker: When a scheduled task is due (the producer's or the retrying worker's clock)."""

    ERRORS: Final = 'errors'
    """json-array, by worker, requeue: The failures of earlier attempts, oldest first, at most 10: objects with attempt, reason and at (a timestamp), and where known worker (its id) and exception (the last 4000 characters of its error-exception)."""

    ORPHAN_SINCE: Final = 'orphan-since'
    """integer, by worker (recovery): Unix milliseconds (the Redis server's clock) when a worker first found the task on executing with no live worker to own it; removed when its owner is seen alive or it is claimed."""

    KILL_REQUESTED: Final = 'kill-requested'
    """timestamp, by cancel: When a client asked to kill the task while it was executing. The kill command also goes out on the cmd channel; a worker that was not listening at that moment finds this mark when it listens again."""

    PROGRESS: Final = 'progress'
    """json, by worker: How far the running task got, as the task reported it (a fraction from 0 to 1, or any JSON value, at most 64 KiB); written at most every quarter of a second by the progress script, only for the run named by worker and attempt, and kept once it finished."""

    META: Final = 'meta'
    """json-object, by producer: Free metadata from the producer that is not an argument: a trace context (traceparent), a request id. Passed to the worker's event hooks, never to the function."""

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
    """string: The queue it serves (its first, when it serves several)."""

    QUEUES: Final = 'queues'
    """json-array: Every queue it serves, in the order it takes from them (an earlier queue first)."""

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

    TASKS_SUCCESSFUL: Final = 'tasks-successful'
    """integer: Tasks it finished successful since it started; written with each heartbeat."""

    TASKS_FAILED: Final = 'tasks-failed'
    """integer: Tasks it finished failed since it started; written with each heartbeat."""

    TASKS_RETRIED: Final = 'tasks-retried'
    """integer: Failed runs it scheduled again to retry since it started; written with each heartbeat."""

    BUSY_SECONDS: Final = 'busy-seconds'
    """string: Seconds its tasks ran since it started, summed over its slots (a decimal number); written with each heartbeat."""


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

    BAD_NUMBER: Final = "{field} must be a whole number from {low} to {high}, got '{value}'"

    NO_QUEUE_TAG: Final = "on Redis Cluster a task id starts with its queue's name in braces and a colon; this one does not, so no worker can take it"

    TIME_LIMIT: Final = 'task exceeded its time limit of {seconds} s'

    WORKER_DIED: Final = 'worker {worker} died while running the task, attempt {attempt} of {attempts}'

    CANCELLED_ORPHAN: Final = 'task was cancelled after its worker {worker} died'


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
        """state (enum): pending, executing or finished; scheduled (added) while it waits for its time."""
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
    def retries(self) -> int | None:
        """retries (integer): Optional: how many more times the task may run after a failure, a time limit or a dead worker. Without it the function's retry policy applies to failures, and the worker's --recovery-retries (default 2) to a dead worker."""
        return cast('int | None', self._decoded('retries', 'integer'))

    @property
    def timeout(self) -> int | None:
        """timeout (integer): Optional seconds the task may run before the worker kills it (task exceeded its time limit). Without it the function's or the worker's default applies."""
        return cast('int | None', self._decoded('timeout', 'integer'))

    @property
    def attempt(self) -> int | None:
        """attempt (integer): Which run this is: the claim counts it up (1 for the first). A task given back unstarted at shutdown, or never claimed, does not count."""
        return cast('int | None', self._decoded('attempt', 'integer'))

    @property
    def scheduled_for(self) -> datetime | None:
        """scheduled-for (timestamp): When a scheduled task is due (the producer's or the retrying worker's clock)."""
        return cast('datetime | None', self._decoded('scheduled-for', 'timestamp'))

    @property
    def errors(self) -> list[Any]:
        """errors (json-array): The failures of earlier attempts, oldest first, at most 10: objects with attempt, reason and at (a timestamp), and where known worker (its id) and exception (the last 4000 characters of its error-exception)."""
        return cast('list[Any]', self._decoded('errors', 'json-array'))

    @property
    def orphan_since(self) -> int | None:
        """orphan-since (integer): Unix milliseconds (the Redis server's clock) when a worker first found the task on executing with no live worker to own it; removed when its owner is seen alive or it is claimed."""
        return cast('int | None', self._decoded('orphan-since', 'integer'))

    @property
    def kill_requested(self) -> datetime | None:
        """kill-requested (timestamp): When a client asked to kill the task while it was executing. The kill command also goes out on the cmd channel; a worker that was not listening at that moment finds this mark when it listens again."""
        return cast('datetime | None', self._decoded('kill-requested', 'timestamp'))

    @property
    def progress(self) -> Any:
        """progress (json): How far the running task got, as the task reported it (a fraction from 0 to 1, or any JSON value, at most 64 KiB); written at most every quarter of a second by the progress script, only for the run named by worker and attempt, and kept once it finished."""
        return self._decoded('progress', 'json')

    @property
    def meta(self) -> dict[str, Any]:
        """meta (json-object): Free metadata from the producer that is not an argument: a trace context (traceparent), a request id. Passed to the worker's event hooks, never to the function."""
        return cast('dict[str, Any]', self._decoded('meta', 'json-object'))


class ScriptSpec(NamedTuple):
    """One Lua script: its source, its SHA1 (for EVALSHA), the names of its KEYS and ARGV (a name ending in '...' takes the rest as field/value pairs, one ending in '*' the rest as a list), and its reply: integer codes, tagged lists or words, by name."""

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
        source="-- submit: create a task hash and queue its id, or schedule it, atomically.\n-- KEYS: task, pending, scheduled\n-- ARGV: task_id, due_ms, cmd_channel, scheduled_command, field_values...\n-- Returns 1 when queued (due_ms empty: LPUSH pending; else ZADD scheduled at due_ms and the scheduled\n-- command published, so idle workers look again), 0 when the task hash already exists (then\n-- nothing is written).\nlocal due = ARGV[2] ~= '' and tonumber(ARGV[2])\nif ARGV[2] ~= '' and not due then\n  return redis.error_reply('due_ms must be a number')\nend\nif redis.call('EXISTS', KEYS[1]) == 1 then\n  return 0\nend\nredis.call('HSET', KEYS[1], unpack(ARGV, 5))\nif due then\n  redis.call('ZADD', KEYS[3], due, ARGV[1])\n  redis.call('PUBLISH', ARGV[3], ARGV[4])\nelse\n  redis.call('LPUSH', KEYS[2], ARGV[1])\nend\nreturn 1\n",
        sha='954563a41a66bd2a199438bb880b44c82e31ca7d',
        keys=('task', 'pending', 'scheduled'),
        argv=('task_id', 'due_ms', 'cmd_channel', 'scheduled_command', 'field_values...'),
        codes={1: 'queued', 0: 'exists'},
        tagged={},
        words=(),
    ),
    'submit_many': ScriptSpec(
        name='submit_many',
        source="-- submit_many: create many task hashes and queue or schedule their ids, all or none, atomically.\n-- KEYS: pending, scheduled, task*\n-- ARGV: cmd_channel, scheduled_command, count, common_fields, tasks*\n-- One task key per task, in the order of the tasks. common_fields is a JSON object of the fields\n-- every task gets; tasks* holds per task its task_id, due_ms, the number n of its own fields, and n\n-- field/value pairs (2n items), which win over common_fields.\n-- Returns {'queued', count} when every task was written: hashes as the submit script writes them,\n-- the queued ids LPUSHed in the order given (so a worker takes them in that order), the scheduled\n-- ones ZADDed and the scheduled command published once; or {'exists', ids as a JSON array} when any\n-- task hash already exists, and then nothing is written. Everything is checked before the first\n-- write.\nlocal count = tonumber(ARGV[3])\nif not count or count < 1 or count ~= #KEYS - 2 then\n  return redis.error_reply('count must be the number of task keys')\nend\nlocal ok, common = pcall(cjson.decode, ARGV[4])\nif not ok or type(common) ~= 'table' then\n  return redis.error_reply('common_fields must be a JSON object')\nend\nlocal base = {}\nfor field, value in pairs(common) do\n  if type(field) ~= 'string' or type(value) ~= 'string' then\n    return redis.error_reply('common_fields must map names to strings')\n  end\n  base[#base + 1] = field\n  base[#base + 1] = value\nend\nlocal starts, dues = {}, {}\nlocal at = 5\nfor i = 1, count do\n  if at + 2 > #ARGV then\n    return redis.error_reply('ARGV ends before its last task')\n  end\n  local due = ARGV[at + 1] ~= '' and tonumber(ARGV[at + 1])\n  if ARGV[at + 1] ~= '' and not due then\n    return redis.error_reply('due_ms must be a number')\n  end\n  local n = tonumber(ARGV[at + 2])\n  if not n or n < 0 or n ~= math.floor(n) or (n == 0 and #base == 0) then\n    return redis.error_reply('a task needs a whole number of fields, and at least one field')\n  end\n  starts[i], dues[i] = at, due\n  at = at + 3 + 2 * n\nend\nif at - 1 ~= #ARGV then\n  return redis.error_reply('ARGV does not match the field counts of its tasks')\nend\nlocal existing = {}\nfor i = 1, count do\n  if redis.call('EXISTS', KEYS[i + 2]) == 1 then\n    existing[#existing + 1] = ARGV[starts[i]]\n  end\nend\nif #existing > 0 then\n  return {'exists', cjson.encode(existing)}\nend\nlocal queued, scheduled = {}, false\nfor i = 1, count do\n  local first = starts[i]\n  local fields = {unpack(base)}\n  for j = first + 3, first + 2 + 2 * tonumber(ARGV[first + 2]) do\n    fields[#fields + 1] = ARGV[j]\n  end\n  redis.call('HSET', KEYS[i + 2], unpack(fields))\n  if dues[i] then\n    redis.call('ZADD', KEYS[2], dues[i], ARGV[first])\n    scheduled = true\n  else\n    queued[#queued + 1] = ARGV[first]\n    if #queued == 1000 then\n      redis.call('LPUSH', KEYS[1], unpack(queued))\n      queued = {}\n    end\n  end\nend\nif #queued > 0 then\n  redis.call('LPUSH', KEYS[1], unpack(queued))\nend\nif scheduled then\n  redis.call('PUBLISH', ARGV[1], ARGV[2])\nend\nreturn {'queued', count}\n",
        sha='1be15310465527b679909abf42f6b6b2ee2ecb33',
        keys=('pending', 'scheduled', 'task*'),
        argv=('cmd_channel', 'scheduled_command', 'count', 'common_fields', 'tasks*'),
        codes={},
        tagged={'queued': ('count',), 'exists': ('task_ids',)},
        words=(),
    ),
    'claim': ScriptSpec(
        name='claim',
        source="-- claim: a worker takes a task whose id it has just moved from pending to executing.\n-- KEYS: task, executing, pending, scheduled\n-- ARGV: task_id, worker_id, queue, now, max_args_bytes\n-- Returns one of these, each followed by the pending list's length (so the worker knows whether\n-- to take more at once or wait):\n--   {'run', function, args, virtual-memory-limit, result-ttl, attempt, retries, timeout, n}\n--                                                  claimed; run it\n--   {'invalid', state, function, attempt, n}       claimed, but it cannot run; the worker fails it\n--   {'toobig', function, size, attempt, n}         claimed, but its args are over max_args_bytes\n--   {'skip', state, n}                 another worker runs it, it is finished, or it waits in the\n--                                      scheduled set (an id pushed twice); id dropped\n--   {'missing', n}                     no such key; id dropped\n--   {'wrongtype', type, n}             the key is not a hash (not a task); id dropped, key untouched\n-- A claim counts an attempt. The same claim made again (the worker's retry after the reply was lost:\n-- the task executing under this worker since this very claim time) writes nothing and answers as\n-- the claim did. Every check comes before the first write, so an error leaves nothing half done.\nlocal backlog = redis.call('LLEN', KEYS[3])\nlocal kind = redis.call('TYPE', KEYS[1])['ok']\nif kind ~= 'hash' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  if kind == 'none' then\n    return {'missing', backlog}\n  end\n  return {'wrongtype', kind, backlog}\nend\nlocal f = redis.call('HMGET', KEYS[1], 'state', 'function', 'args', 'virtual-memory-limit', 'result-ttl',\n  'attempt', 'retries', 'timeout', 'orphan-since', 'worker', 'executing-created')\nlocal state, fn, args = f[1], f[2], f[3]\nlocal again = state == 'executing' and f[10] == ARGV[2] and f[11] == ARGV[4]\nif (state == 'executing' and not again) or state == 'finished'\n    or (state == 'scheduled' and redis.call('ZSCORE', KEYS[4], ARGV[1])) then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  return {'skip', state, backlog}\nend\nlocal attempt = tonumber(f[6])\nif not attempt or attempt < 0 or attempt > 1000000 or attempt % 1 ~= 0 then\n  attempt = 0\nend\nif not again then\n  attempt = attempt + 1\n  redis.call('HSET', KEYS[1], 'state', 'executing', 'executing-created', ARGV[4],\n    'worker', ARGV[2], 'queue', ARGV[3], 'attempt', attempt)\n  if f[9] then\n    redis.call('HDEL', KEYS[1], 'orphan-since')\n  end\nend\nif (state ~= 'pending' and not again) or not fn or fn == '' then\n  return {'invalid', state or '', fn or '', attempt, backlog}\nend\nif args and #args > tonumber(ARGV[5]) then\n  return {'toobig', fn, #args, attempt, backlog}\nend\nreturn {'run', fn, args or '', f[4] or '', f[5] or '', attempt, f[7] or '', f[8] or '', backlog}\n",
        sha='07e541f7acc95b62cef8a2c62dd4c0fe9de46e24',
        keys=('task', 'executing', 'pending', 'scheduled'),
        argv=('task_id', 'worker_id', 'queue', 'now', 'max_args_bytes'),
        codes={},
        tagged={'run': ('function', 'args', 'virtual-memory-limit', 'result-ttl', 'attempt', 'retries', 'timeout', 'backlog'), 'invalid': ('state', 'function', 'attempt', 'backlog'), 'toobig': ('function', 'size', 'attempt', 'backlog'), 'skip': ('state', 'backlog'), 'missing': ('backlog',), 'wrongtype': ('type', 'backlog')},
        words=(),
    ),
    'finish': ScriptSpec(
        name='finish',
        source="-- finish: record a task's result, drop its id from executing, publish its hash key.\n-- KEYS: task, executing, failed\n-- ARGV: task_id, worker_id, attempt, results_channel, default_ttl, failed_at_ms, field_values...\n-- Returns 1 finished and published (a failed task also indexed in failed at failed_at_ms), 0 the\n-- hash is gone (its id is dropped from executing), -1 the task is no longer this worker's run to\n-- finish (state is not executing, or another worker or a later attempt owns it): then nothing is\n-- touched, not even executing, whose entry is no longer this run's either; -2 the key is not a hash\n-- (its id is dropped from executing, the key left alone).\n-- Every check comes before the first write, so an error leaves nothing half done.\nlocal failed_at = ARGV[6] ~= '' and tonumber(ARGV[6])\nif ARGV[6] ~= '' and not failed_at then\n  return redis.error_reply('failed_at_ms must be a number')\nend\nlocal kind = redis.call('TYPE', KEYS[1])['ok']\nif kind ~= 'hash' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  if kind == 'none' then\n    return 0\n  end\n  return -2\nend\nlocal owner = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt', 'result-ttl', 'orphan-since')\nif owner[1] ~= 'executing' or owner[2] ~= ARGV[2] or owner[3] ~= ARGV[3] then\n  return -1\nend\n-- The task's own result-ttl when it is a plain number EXPIRE takes (the worker refused a task whose\n-- result-ttl was out of range when it claimed it; this only guards against a later change).\nlocal ttl = tonumber(ARGV[5])\nif owner[4] and string.match(owner[4], '^%d+$') and #owner[4] <= 10 then\n  ttl = tonumber(owner[4])\nend\nredis.call('LREM', KEYS[2], 1, ARGV[1])\nredis.call('HSET', KEYS[1], unpack(ARGV, 7))\nif owner[5] then\n  redis.call('HDEL', KEYS[1], 'orphan-since')\nend\nif ttl > 0 then\n  redis.call('EXPIRE', KEYS[1], ttl)\nend\nif failed_at then\n  redis.call('ZADD', KEYS[3], failed_at, ARGV[1])\nend\nredis.call('PUBLISH', ARGV[4], KEYS[1])\nreturn 1\n",
        sha='4c9926ee293bde137589129877efe79a07ccb22b',
        keys=('task', 'executing', 'failed'),
        argv=('task_id', 'worker_id', 'attempt', 'results_channel', 'default_ttl', 'failed_at_ms', 'field_values...'),
        codes={1: 'finished', 0: 'gone', -1: 'not_owner', -2: 'wrongtype'},
        tagged={},
        words=(),
    ),
    'retry': ScriptSpec(
        name='retry',
        source="-- retry: a failed run with retries left: record its error, and schedule the task again.\n-- KEYS: task, executing, scheduled\n-- ARGV: task_id, worker_id, attempt, due_ms, error_json, cmd_channel, scheduled_command, field_values...\n-- Returns 1 scheduled at due_ms (error_json appended to errors, at most the last 10 kept, and the\n-- scheduled command published), 0 the hash is gone (id dropped from executing), -1 the task is no\n-- longer this worker's run (nothing touched), -2 the key is not a hash (id dropped from executing).\n-- Every check comes before the first write, so an error leaves nothing half done.\nlocal due = tonumber(ARGV[4])\nlocal ok, entry = pcall(cjson.decode, ARGV[5])\nif not due or not ok or type(entry) ~= 'table' then\n  return redis.error_reply('due_ms must be a number and error_json a JSON object')\nend\nlocal kind = redis.call('TYPE', KEYS[1])['ok']\nif kind ~= 'hash' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  if kind == 'none' then\n    return 0\n  end\n  return -2\nend\nlocal owner = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt', 'errors')\nif owner[1] ~= 'executing' or owner[2] ~= ARGV[2] or owner[3] ~= ARGV[3] then\n  return -1\nend\nlocal decoded, errors = pcall(cjson.decode, owner[4] or '[]')\nif not decoded or type(errors) ~= 'table' or (next(errors) ~= nil and #errors == 0) then\n  errors = {}  -- not a list written by doshit: start the history again\nend\ntable.insert(errors, entry)\nwhile #errors > 10 do\n  table.remove(errors, 1)\nend\nredis.call('LREM', KEYS[2], 1, ARGV[1])\nredis.call('HSET', KEYS[1], 'errors', cjson.encode(errors), unpack(ARGV, 8))\nredis.call('HDEL', KEYS[1], 'worker', 'executing-created', 'kill-requested', 'orphan-since')\nredis.call('ZADD', KEYS[3], due, ARGV[1])\nredis.call('PUBLISH', ARGV[6], ARGV[7])\nreturn 1\n",
        sha='6d3a8c17832c20e98671955ff8717f03c1556d28',
        keys=('task', 'executing', 'scheduled'),
        argv=('task_id', 'worker_id', 'attempt', 'due_ms', 'error_json', 'cmd_channel', 'scheduled_command', 'field_values...'),
        codes={1: 'scheduled', 0: 'gone', -1: 'not_owner', -2: 'wrongtype'},
        tagged={},
        words=(),
    ),
    'promote': ScriptSpec(
        name='promote',
        source="-- promote: a scheduled task whose time has come goes to pending. Any number of workers may try the\n-- same task at once: only the one whose ZREM takes it off scheduled moves it.\n-- KEYS: task, scheduled, pending\n-- ARGV: task_id\n-- Returns 1 promoted (state pending, LPUSH pending), 0 already promoted or cancelled, -1 its state is\n-- not scheduled (taken off scheduled, left alone), -2 the key is not a hash (taken off scheduled).\nif redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then\n  return 0\nend\nif redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then\n  return -2\nend\nif redis.call('HGET', KEYS[1], 'state') ~= 'scheduled' then\n  return -1\nend\nredis.call('HSET', KEYS[1], 'state', 'pending')\nredis.call('LPUSH', KEYS[3], ARGV[1])\nreturn 1\n",
        sha='26251a87fbf45379a80015b46b72293ddd251c7c',
        keys=('task', 'scheduled', 'pending'),
        argv=('task_id',),
        codes={1: 'promoted', 0: 'taken', -1: 'not_scheduled', -2: 'wrongtype'},
        tagged={},
        words=(),
    ),
    'recover': ScriptSpec(
        name='recover',
        source="-- recover: look at one id on executing and give back the task of a worker that is gone.\n-- KEYS: task, executing, pending, failed, owner\n-- ARGV: task_id, owner_id, now, grace_ms, default_retries, reason, results_channel, default_ttl, cancelled_reason, owner_alive\n-- owner is the key of the worker the caller read in the task's worker field (owner_id; empty when\n-- there was none). A task has no live owner when its worker hash is gone, or when it was popped but\n-- never claimed (state pending). Such a task is marked (orphan-since) the first time and handled only\n-- when the mark is at least grace_ms old and the owner still gone: a worker that is alive renews its\n-- hash long before, and its mark is taken off. The id of a task that is already finished (cancelled\n-- while its worker was dead) is dropped. A task a client asked to kill (kill-requested) is not given\n-- back: it is finished failed with cancelled_reason.\n-- owner_alive is empty to look at the owner key here; on Redis Cluster, where the worker's key sits in\n-- another slot, the caller looks (EXISTS) just before and says 1 or 0, and owner is the task key\n-- (a key of this slot the script does not read as an owner).\n-- Returns 'alive', 'marked', 'waiting', 'requeued' (a popped or an orphaned task with attempts left:\n-- RPUSH pending, taken next; the error appended to errors), 'failed' (attempts used: finished failed\n-- with the reason, expired, indexed, published), 'gone' (another recovery took it), 'legacy' (run by a\n-- legacy worker, which writes no worker field: never touched), 'dropped' (not a task hash, or finished:\n-- id taken off executing), 'skip' (the owner changed, or the state is not one to recover).\n-- Marks and their age are read on the Redis server's clock, so workers whose clocks disagree agree.\nlocal clock = redis.call('TIME')\nlocal now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)\nlocal grace = tonumber(ARGV[4])\nlocal default_retries = tonumber(ARGV[5])\nlocal kind = redis.call('TYPE', KEYS[1])['ok']\nif kind ~= 'hash' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  return 'dropped'\nend\nlocal f = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt', 'retries', 'orphan-since', 'errors',\n  'result-ttl', 'kill-requested')\nlocal state, worker, since = f[1], f[2], tonumber(f[5])\nif state == 'finished' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  return 'dropped'\nend\nif state == 'executing' and not worker then\n  return 'legacy'\nend\nif state == 'executing' then\n  if worker ~= ARGV[2] then\n    return 'skip'\n  end\n  local told = tonumber(ARGV[10])\n  local alive = (told and told > 0) or (not told and redis.call('EXISTS', KEYS[5]) == 1)\n  if alive then\n    if f[5] then\n      redis.call('HDEL', KEYS[1], 'orphan-since')\n    end\n    return 'alive'\n  end\nelseif state ~= 'pending' then\n  return 'skip'\nend\nif not since then\n  if not redis.call('LPOS', KEYS[2], ARGV[1]) then  -- another recovery gave it back since the caller looked\n    return 'gone'\n  end\n  redis.call('HSET', KEYS[1], 'orphan-since', now)\n  return 'marked'\nend\nif now - since < grace then\n  return 'waiting'\nend\nif redis.call('LREM', KEYS[2], 1, ARGV[1]) == 0 then\n  redis.call('HDEL', KEYS[1], 'orphan-since')\n  return 'gone'\nend\nredis.call('HDEL', KEYS[1], 'orphan-since')\nif state == 'pending' then  -- popped but never claimed: no attempt was used\n  redis.call('RPUSH', KEYS[3], ARGV[1])\n  return 'requeued'\nend\nlocal attempt = tonumber(f[3]) or 1\nlocal retries = tonumber(f[4]) or default_retries\nlocal attempts = attempt\nif attempt < 1 + retries then\n  attempts = 1 + retries\nend\nlocal function escaped(text)\n  return (string.gsub(tostring(text), '%%', '%%%%'))\nend\nlocal template = ARGV[6]\nif f[8] then\n  template = ARGV[9]\nend\nlocal reason = string.gsub(template, '{worker}', escaped(worker))\nreason = string.gsub(reason, '{attempt}', escaped(attempt))\nreason = string.gsub(reason, '{attempts}', escaped(attempts))\nlocal decoded, errors = pcall(cjson.decode, f[6] or '[]')\nif not decoded or type(errors) ~= 'table' or (next(errors) ~= nil and #errors == 0) then\n  errors = {}\nend\ntable.insert(errors, {attempt = attempt, worker = worker, reason = reason, at = ARGV[3]})\nwhile #errors > 10 do\n  table.remove(errors, 1)\nend\nif attempt < 1 + retries and not f[8] then\n  redis.call('HSET', KEYS[1], 'state', 'pending', 'errors', cjson.encode(errors))\n  redis.call('HDEL', KEYS[1], 'worker', 'executing-created', 'kill-requested')\n  redis.call('RPUSH', KEYS[3], ARGV[1])\n  return 'requeued'\nend\nlocal ttl = tonumber(ARGV[8])\nif f[7] and string.match(f[7], '^%d+$') and #f[7] <= 10 then\n  ttl = tonumber(f[7])\nend\nredis.call('HSET', KEYS[1], 'state', 'finished', 'result', 'failed', 'error-reason', reason,\n  'finished-created', ARGV[3], 'errors', cjson.encode(errors))\nif ttl > 0 then\n  redis.call('EXPIRE', KEYS[1], ttl)\nend\nredis.call('ZADD', KEYS[4], now, ARGV[1])\nredis.call('PUBLISH', ARGV[7], KEYS[1])\nreturn 'failed'\n",
        sha='207975bfeda18225c6e93d3e796cfcd52d240cbb',
        keys=('task', 'executing', 'pending', 'failed', 'owner'),
        argv=('task_id', 'owner_id', 'now', 'grace_ms', 'default_retries', 'reason', 'results_channel', 'default_ttl', 'cancelled_reason', 'owner_alive'),
        codes={},
        tagged={},
        words=('alive', 'marked', 'waiting', 'requeued', 'failed', 'gone', 'legacy', 'dropped', 'skip'),
    ),
    'requeue': ScriptSpec(
        name='requeue',
        source="-- requeue: run a failed task again. Its failure joins the history in errors, its result fields and\n-- attempt count go, it no longer expires, and it is pushed on pending as a new task would be.\n-- KEYS: task, pending, failed\n-- ARGV: task_id\n-- Returns 'requeued', 'not_failed' (it is not a finished, failed task: nothing changed) or 'missing'.\nif redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then\n  return 'missing'\nend\nlocal f = redis.call('HMGET', KEYS[1], 'state', 'result', 'attempt', 'error-reason', 'finished-created', 'errors',\n  'worker', 'error-exception')\nif f[1] ~= 'finished' or f[2] ~= 'failed' then\n  return 'not_failed'\nend\nlocal decoded, errors = pcall(cjson.decode, f[6] or '[]')\nif not decoded or type(errors) ~= 'table' or (next(errors) ~= nil and #errors == 0) then\n  errors = {}\nend\nlocal entry = {attempt = tonumber(f[3]) or 0, reason = f[4] or '', at = f[5] or ''}\nif f[7] then\n  entry.worker = f[7]\nend\nif f[8] and #f[8] > 0 then  -- its last 4000 bytes, from the start of a UTF-8 character\n  entry.exception = (string.gsub(string.sub(f[8], -4000), '^[\\128-\\191]+', ''))\nend\ntable.insert(errors, entry)\nwhile #errors > 10 do\n  table.remove(errors, 1)\nend\nredis.call('HDEL', KEYS[1], 'result', 'result-value', 'error-reason', 'error-exception', 'finished-created',\n  'worker', 'executing-created', 'kill-requested', 'orphan-since', 'attempt', 'progress')\nredis.call('HSET', KEYS[1], 'state', 'pending', 'errors', cjson.encode(errors))\nredis.call('PERSIST', KEYS[1])\nredis.call('ZREM', KEYS[3], ARGV[1])\nredis.call('LPUSH', KEYS[2], ARGV[1])\nreturn 'requeued'\n",
        sha='13a82ed0c30dea6863d4fbfcd443e53e08269516',
        keys=('task', 'pending', 'failed'),
        argv=('task_id',),
        codes={},
        tagged={},
        words=('requeued', 'not_failed', 'missing'),
    ),
    'progress': ScriptSpec(
        name='progress',
        source="-- progress: record how far a running task got, for the run that reports it only.\n-- KEYS: task\n-- ARGV: task_id, worker_id, attempt, value\n-- Returns 1 when written, 0 when the task is not that run any more (finished, taken over, gone).\nif redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then\n  return 0\nend\nlocal f = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt')\nif f[1] ~= 'executing' or f[2] ~= ARGV[2] or f[3] ~= ARGV[3] then\n  return 0\nend\nredis.call('HSET', KEYS[1], 'progress', ARGV[4])\nreturn 1\n",
        sha='3debc9346fd1263372159eb7226ff43cbba04987',
        keys=('task',),
        argv=('task_id', 'worker_id', 'attempt', 'value'),
        codes={1: 'written', 0: 'not_running'},
        tagged={},
        words=(),
    ),
    'unclaim': ScriptSpec(
        name='unclaim',
        source="-- unclaim: give back a task this worker claimed but never started (it was waiting for a free\n-- slot when the worker shut down). It goes to the right end of pending, so it is taken next, and\n-- its claim does not count as an attempt.\n-- KEYS: task, executing, pending\n-- ARGV: task_id, worker_id\n-- Returns 1 when given back, 0 when the task was not this worker's to give back.\nlocal fields = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt')\nif fields[1] ~= 'executing' or fields[2] ~= ARGV[2] then\n  return 0\nend\nlocal attempt = tonumber(fields[3])\nredis.call('HSET', KEYS[1], 'state', 'pending')\nredis.call('HDEL', KEYS[1], 'executing-created', 'worker')\nif attempt and attempt > 1 then\n  redis.call('HSET', KEYS[1], 'attempt', attempt - 1)\nelse\n  redis.call('HDEL', KEYS[1], 'attempt')\nend\nredis.call('LREM', KEYS[2], 1, ARGV[1])\nredis.call('RPUSH', KEYS[3], ARGV[1])\nreturn 1\n",
        sha='1ba4285760f78097e951a9547b03370884106187',
        keys=('task', 'executing', 'pending'),
        argv=('task_id', 'worker_id'),
        codes={1: 'given_back', 0: 'not_owner'},
        tagged={},
        words=(),
    ),
    'cancel': ScriptSpec(
        name='cancel',
        source="-- cancel: stop a task. One that is not executing (pending, scheduled, or a state no worker would run),\n-- or that executes under a worker that is gone, is finished failed at once (taken off pending or\n-- scheduled; an id left on executing is dropped by the next recovery round, so a client needs no\n-- access to executing); for one a live worker runs, the kill is marked in the hash (kill-requested)\n-- and the kill command goes to the workers.\n-- KEYS: task, pending, scheduled, failed\n-- ARGV: task_id, owner_id, owner_gone, results_channel, cmd_channel, kill_command, now, now_ms, reason, orphan_reason, default_ttl\n-- owner_id is the task's worker field when the caller read it, owner_gone '1' when that worker's key\n-- did not exist then (a producer may only read worker keys, and a script must be allowed to write\n-- every key it is given). The worker is taken for dead only when, besides, a recovery round found it\n-- gone before (orphan-since): a worker hash can be missing for a moment from a live worker (Redis\n-- restarted without its data, until the next heartbeat). A task whose worker just died gets the kill\n-- mark, and the recovery finishes it with orphan_reason instead of giving it back.\n-- Returns 'cancelled', 'killing', 'finished' or 'missing' (no task hash).\n-- Every check comes before the first write, so an error leaves nothing half done.\nlocal now_ms = tonumber(ARGV[8])\nif not now_ms then\n  return redis.error_reply('now_ms must be a number')\nend\nif redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then\n  return 'missing'\nend\nlocal fields = redis.call('HMGET', KEYS[1], 'state', 'result-ttl', 'worker', 'orphan-since')\nlocal state, own = fields[1], fields[2]\nif not state then\n  return 'missing'\nend\nif state == 'finished' then\n  return 'finished'\nend\nif state == 'executing' then\n  local dead = fields[3] and fields[3] == ARGV[2] and tonumber(ARGV[3]) == 1 and fields[4]\n  if not dead then\n    redis.call('HSET', KEYS[1], 'kill-requested', ARGV[7])\n    redis.call('PUBLISH', ARGV[5], ARGV[6])\n    return 'killing'\n  end\nend\nlocal reason = ARGV[9]\nif state == 'executing' then  -- in case the worker lives after all: its run stops, its result is refused\n  reason = ARGV[10]\n  redis.call('PUBLISH', ARGV[5], ARGV[6])\nend\nlocal ttl = tonumber(ARGV[11])\nif own and string.match(own, '^%d+$') and #own <= 10 then\n  ttl = tonumber(own)\nend\nredis.call('LREM', KEYS[2], 0, ARGV[1])\nredis.call('ZREM', KEYS[3], ARGV[1])\nredis.call('HDEL', KEYS[1], 'orphan-since')\nredis.call('HSET', KEYS[1], 'state', 'finished', 'result', 'failed',\n  'error-reason', reason, 'finished-created', ARGV[7])\nif ttl > 0 then\n  redis.call('EXPIRE', KEYS[1], ttl)\nend\nredis.call('ZADD', KEYS[4], now_ms, ARGV[1])\nredis.call('PUBLISH', ARGV[4], KEYS[1])\nreturn 'cancelled'\n",
        sha='8878efad838054aa8358147c517d5a05f0b3c32b',
        keys=('task', 'pending', 'scheduled', 'failed'),
        argv=('task_id', 'owner_id', 'owner_gone', 'results_channel', 'cmd_channel', 'kill_command', 'now', 'now_ms', 'reason', 'orphan_reason', 'default_ttl'),
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


class SubmitManyReply:
    """What the submit_many script's reply says (Reply.status)."""

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


class RetryReply:
    """What the retry script's reply says (Reply.status)."""

    SCHEDULED: Final = 'scheduled'

    GONE: Final = 'gone'

    NOT_OWNER: Final = 'not_owner'

    WRONGTYPE: Final = 'wrongtype'


class PromoteReply:
    """What the promote script's reply says (Reply.status)."""

    PROMOTED: Final = 'promoted'

    TAKEN: Final = 'taken'

    NOT_SCHEDULED: Final = 'not_scheduled'

    WRONGTYPE: Final = 'wrongtype'


class RecoverReply:
    """What the recover script's reply says (Reply.status)."""

    ALIVE: Final = 'alive'

    MARKED: Final = 'marked'

    WAITING: Final = 'waiting'

    REQUEUED: Final = 'requeued'

    FAILED: Final = 'failed'

    GONE: Final = 'gone'

    LEGACY: Final = 'legacy'

    DROPPED: Final = 'dropped'

    SKIP: Final = 'skip'


class RequeueReply:
    """What the requeue script's reply says (Reply.status)."""

    REQUEUED: Final = 'requeued'

    NOT_FAILED: Final = 'not_failed'

    MISSING: Final = 'missing'


class ProgressReply:
    """What the progress script's reply says (Reply.status)."""

    WRITTEN: Final = 'written'

    NOT_RUNNING: Final = 'not_running'


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
