// The doshit wire schema for Node.js.
// GENERATED from schema/schema.json and schema/scripts/ by schema/codegen.py: do not edit by hand.
'use strict';

function freeze(value) {
  if (value && typeof value === 'object') Object.values(value).forEach(freeze);
  return Object.freeze(value);
}

module.exports = freeze({
  "schema_version": 2,
  "defaults": {
    "prefix": "doshit",
    "queue": "default"
  },
  "config": {
    "default_url": "redis://127.0.0.1:6379/0",
    "url_schemes": [
      "redis",
      "rediss",
      "unix",
      "redis+sentinel",
      "redis+cluster"
    ],
    "environment": {
      "url": {
        "name": "DOSHIT_REDIS_URL",
        "legacy": false,
        "doc": "redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// URL, with user and password if needed."
      },
      "redis_json": {
        "name": "DOSHIT_REDIS",
        "legacy": true,
        "doc": "A JSON object of connection settings (redis-py keyword arguments), used when there is no URL."
      },
      "prefix": {
        "name": "DOSHIT_APP_PREFIX",
        "legacy": true,
        "doc": "The key prefix."
      },
      "queue": {
        "name": "DOSHIT_QUEUE",
        "legacy": true,
        "doc": "The queue."
      },
      "virtual_memory_limit": {
        "name": "DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT",
        "legacy": true,
        "doc": "Default virtual memory limit (bytes) for submitted tasks."
      }
    },
    "reconnect_delays_seconds": [
      0.1,
      0.5,
      1,
      2,
      5
    ],
    "doc": "Where clients and workers connect: an argument or option wins, then the environment, then default_url. A lost results subscription waits each of reconnect_delays_seconds in turn (the last repeats) before it subscribes again."
  },
  "names": {
    "regex": "^[^\\s:{}*?\\[\\]\\\\]+$",
    "reserved_queues": [
      "task",
      "worker"
    ],
    "doc": "Prefix and queue names: not empty, no whitespace, ':', braces, nor the glob characters * ? [ ] and backslash (they would widen the ACL key patterns of a prefix). A queue may not be named like a key kind (reserved_queues): the pending list of a queue named task would be the hash of the task with id pending."
  },
  "keys": {
    "task": {
      "pattern": "{prefix}:task:{task_id}",
      "type": "hash",
      "legacy": true,
      "doc": "One task: what to run, its state, its result."
    },
    "pending": {
      "pattern": "{prefix}:{queue}:pending",
      "type": "list",
      "legacy": true,
      "doc": "Task ids waiting to run. Producers LPUSH, workers pop from the right, so the right end is the oldest (FIFO)."
    },
    "executing": {
      "pattern": "{prefix}:{queue}:executing",
      "type": "list",
      "legacy": true,
      "doc": "Task ids a worker has taken (BRPOPLPUSH from pending) and not yet finished."
    },
    "worker": {
      "pattern": "{prefix}:worker:{worker_id}",
      "type": "hash",
      "legacy": true,
      "doc": "One live worker. Expires unless its heartbeat renews it; deleted on clean shutdown."
    },
    "scheduled": {
      "pattern": "{prefix}:{queue}:scheduled",
      "type": "zset",
      "legacy": false,
      "doc": "Task ids waiting for their time (delayed tasks, and retries after a failure), scored by when they are due (unix milliseconds). Workers move the due ones to pending; legacy workers never see them."
    },
    "failed": {
      "pattern": "{prefix}:{queue}:failed",
      "type": "zset",
      "legacy": false,
      "doc": "Ids of the queue's failed tasks, scored by when they failed (unix milliseconds): to list, count and requeue them without scanning keys. Workers take off the ids whose hash has expired."
    },
    "recovery": {
      "pattern": "{prefix}:{queue}:recovery",
      "type": "string",
      "legacy": false,
      "doc": "Held (SET NX PX) by the worker that looks for the queue's orphaned tasks this round, so one worker does it at a time; it expires by itself."
    },
    "workers": {
      "pattern": "{prefix}:workers",
      "type": "zset",
      "legacy": false,
      "doc": "Ids of the workers of this prefix, scored by when their worker hash expires (unix seconds, renewed with each heartbeat): an index to find the live workers without scanning keys. A member whose hash is gone is a worker that died."
    },
    "stats": {
      "pattern": "{prefix}:stats",
      "type": "hash",
      "legacy": false,
      "doc": "Task counts since the prefix began, for metrics: field [queue, function, outcome] as compact JSON (outcome successful, failed, retried or recovered; function empty for recovered, (unknown) for a name the worker has not registered), value a count. Workers add what they did with each heartbeat (HINCRBY), never on a task's path."
    },
    "stats_durations": {
      "pattern": "{prefix}:stats:durations",
      "type": "hash",
      "legacy": false,
      "doc": "Run times for metrics: field [queue, function, le] as compact JSON, value the runs whose duration fell in that bucket only (not cumulative; le is a bound of stats_buckets), and [queue, function, \"sum\"] the seconds of all runs (HINCRBYFLOAT). Added with each heartbeat."
    }
  },
  "cluster": {
    "scheme": "redis+cluster",
    "default_port": 6379,
    "queue_tagged": [
      "pending",
      "executing",
      "scheduled",
      "failed",
      "recovery"
    ],
    "prefix_tagged": [
      "worker",
      "workers",
      "stats",
      "stats_durations"
    ],
    "tag_open": "{",
    "tag_close": "}",
    "doc": "The key layout on Redis Cluster (a redis+cluster:// URL), where every key one script touches must share a hash slot. A key of a queue is written with the queue name as a hash tag ({prefix}:{<queue>}:pending, e.g. doshit:{default}:pending); a key of the whole prefix with the prefix as a hash tag ({<prefix>}:workers); the task key keeps its pattern and the task id starts with its queue's tag ({<queue>}:<uuid4>, so doshit:task:{default}:<uuid4> sits in the queue's slot and an id alone still finds its task). A chosen id that does not start with its queue's tag gets it put in front. Each queue lives on one shard; queues spread over the shards. The channels stay classic pub/sub (a cluster carries a PUBLISH to every node). Legacy clients know nothing of this layout: they keep using a single Redis or a Sentinel."
  },
  "channels": {
    "results": {
      "pattern": "{prefix}:results",
      "legacy": true,
      "doc": "A worker PUBLISHes the finished task's hash key (not the bare id), e.g. doshit:task:ID."
    },
    "cmd": {
      "pattern": "{prefix}:cmd",
      "legacy": true,
      "doc": "Commands to every worker of this prefix."
    }
  },
  "commands": {
    "kill": {
      "pattern": "task:kill:{task_key}",
      "legacy": true,
      "doc": "The worker running that task kills it (SIGINT, then SIGTERM, then SIGKILL, as kill_escalation says) and finishes it failed."
    },
    "kill_all": {
      "pattern": "task:kill:all",
      "legacy": true,
      "doc": "Every worker kills every task it runs."
    },
    "scheduled": {
      "pattern": "task:scheduled:{queue}",
      "legacy": false,
      "doc": "A task was scheduled on the queue: its workers look again at when the next one is due. Legacy workers ignore it."
    }
  },
  "task_id": {
    "regex": "^[^\\s\\x00-\\x1f\\x7f]{1,256}$",
    "doc": "1 to 256 characters, no whitespace or control characters. Generated ids are uuid4 strings; legacy Python used uuid1."
  },
  "timestamp": {
    "strftime": "%Y-%m-%dT%H:%M:%S.%fZ",
    "regex": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}Z$",
    "example": "2015-12-05T00:19:01.834909Z",
    "doc": "UTC, six fractional digits, literal Z. Used by every *-created field and inside datetime values."
  },
  "datetime_value": {
    "type_key": "type",
    "type_value": "datetime",
    "value_key": "value",
    "doc": "A datetime inside args or result-value is the JSON object {\"type\": \"datetime\", \"value\": TIMESTAMP}."
  },
  "states": {
    "pending": "Submitted; its id is on the pending list.",
    "executing": "A worker took it; its id is on the executing list and `worker` names the worker.",
    "scheduled": "Waiting for its time in the scheduled set: a delayed task, or a retry after a failure. Legacy readers see a task that is not finished yet.",
    "finished": "Terminal for its worker: `result` says successful or failed. Only a requeue (of a failed task, by a client) makes it pending again."
  },
  "transitions": [
    {
      "name": "submit",
      "from": null,
      "to": "pending",
      "by": "producer",
      "lane": [
        {
          "from": "actor:producer",
          "to": "key:pending",
          "label": "submit script",
          "how": "submit script: HSET the hash and LPUSH the id, atomically; refused if the hash exists"
        }
      ]
    },
    {
      "name": "take",
      "from": "pending",
      "to": "executing",
      "by": "worker",
      "lane": [
        {
          "from": "key:pending",
          "to": "actor:worker",
          "label": "BRPOPLPUSH",
          "how": "BRPOPLPUSH pending -> executing"
        },
        {
          "from": "actor:worker",
          "to": "key:executing",
          "label": "claim script",
          "how": "the claim script sets state, executing-created, worker, queue"
        }
      ]
    },
    {
      "name": "finish",
      "from": "executing",
      "to": "finished",
      "by": "worker named in `worker`",
      "lane": [
        {
          "from": "key:executing",
          "to": "state:finished",
          "label": "finish script",
          "how": "finish script: result fields, LREM executing, EXPIRE"
        },
        {
          "from": "state:finished",
          "to": "channel:results",
          "label": "PUBLISH",
          "how": "PUBLISH the hash key on results"
        }
      ]
    },
    {
      "name": "cancel",
      "from": "pending",
      "to": "finished",
      "by": "any client (cancel)",
      "how": "cancel script: LREM pending (or ZREM scheduled; also an executing task a recovery found without its worker, its id dropped by the next recovery), result failed with the cancelled reason, EXPIRE, ZADD failed, PUBLISH"
    },
    {
      "name": "schedule",
      "from": null,
      "to": "scheduled",
      "by": "producer",
      "how": "submit script with a due time: HSET the hash and ZADD the id to scheduled, atomically"
    },
    {
      "name": "promote",
      "from": "scheduled",
      "to": "pending",
      "by": "any worker",
      "how": "promote script, for a due task: ZREM scheduled (only one promoter wins), state pending, LPUSH pending"
    },
    {
      "name": "retry",
      "from": "executing",
      "to": "scheduled",
      "by": "worker named in `worker`",
      "how": "retry script, after a failure with retries left: the error appended to errors, LREM executing, ZADD scheduled at now plus the backoff"
    },
    {
      "name": "recover",
      "from": "executing",
      "to": "pending",
      "by": "any worker",
      "how": "recover script, when the worker named in `worker` is dead (its hash gone on two looks at least recovery-grace apart) and attempts are left: LREM executing, the error appended to errors, state pending, RPUSH pending (taken next)"
    },
    {
      "name": "give_up",
      "from": "executing",
      "to": "finished",
      "by": "any worker",
      "how": "recover script, when the dead worker's task has used its attempts: failed with the worker-died reason, LREM executing, EXPIRE, ZADD failed, PUBLISH"
    },
    {
      "name": "requeue",
      "from": "finished",
      "to": "pending",
      "by": "any client",
      "how": "requeue script, for a failed task: ZREM failed, the error appended to errors, result fields and attempt removed, PERSIST, LPUSH pending"
    },
    {
      "name": "unclaim",
      "from": "executing",
      "to": "pending",
      "by": "worker named in `worker`",
      "how": "unclaim script, for a task claimed ahead that never started when the worker shuts down: state back to pending, executing-created and worker removed, id moved back to the taking end of pending"
    }
  ],
  "reading": {
    "from": "channel:results",
    "to": "actor:caller",
    "label": "SUBSCRIBE HGETALL",
    "how": "SUBSCRIBE first (before submitting); on a message, HGETALL or HMGET the task hash it names"
  },
  "results": {
    "successful": "The function returned; result-value holds its JSON (always written, falsy values included).",
    "failed": "error-reason says why in one line; error-exception holds the traceback when there is one."
  },
  "task_fields": [
    {
      "name": "function",
      "type": "string",
      "by": "producer",
      "legacy": true,
      "doc": "The registered name of the function to run."
    },
    {
      "name": "state",
      "type": "enum",
      "by": "producer, worker, cancel",
      "legacy": true,
      "doc": "pending, executing or finished; scheduled (added) while it waits for its time."
    },
    {
      "name": "args",
      "type": "json-object",
      "by": "producer",
      "legacy": true,
      "doc": "JSON object of named arguments. Written compact; legacy producers pretty-printed it with indent 2, which readers accept."
    },
    {
      "name": "pending-created",
      "type": "timestamp",
      "by": "producer",
      "legacy": true,
      "doc": "When it was submitted. The legacy Node producer omitted it."
    },
    {
      "name": "executing-created",
      "type": "timestamp",
      "by": "worker",
      "legacy": true,
      "doc": "When a worker took it."
    },
    {
      "name": "finished-created",
      "type": "timestamp",
      "by": "worker, cancel",
      "legacy": true,
      "doc": "When it finished."
    },
    {
      "name": "result",
      "type": "enum",
      "by": "worker, cancel",
      "legacy": true,
      "doc": "successful or failed."
    },
    {
      "name": "result-value",
      "type": "json",
      "by": "worker",
      "legacy": true,
      "doc": "JSON of the return value, on success. Always written, also for 0, \"\", false, [], {} and null."
    },
    {
      "name": "error-reason",
      "type": "string",
      "by": "worker, cancel",
      "legacy": true,
      "doc": "One readable line on failure, e.g. `ValueError: bad input` or `task was pubsub killed`."
    },
    {
      "name": "error-exception",
      "type": "string",
      "by": "worker",
      "legacy": true,
      "doc": "The traceback or other detail text, on failure."
    },
    {
      "name": "username",
      "type": "string",
      "by": "producer",
      "legacy": true,
      "doc": "Optional free text naming who submitted it."
    },
    {
      "name": "virtual-memory-limit",
      "type": "integer",
      "by": "producer",
      "legacy": true,
      "doc": "Optional bytes; the worker sets RLIMIT_AS to it for the task's process."
    },
    {
      "name": "schema-version",
      "type": "integer",
      "by": "producer",
      "legacy": false,
      "doc": "The schema version the producer wrote. Absent on tasks written by legacy producers."
    },
    {
      "name": "queue",
      "type": "string",
      "by": "producer, worker",
      "legacy": false,
      "doc": "The queue the task was pushed on; the worker records the queue it took it from."
    },
    {
      "name": "worker",
      "type": "string",
      "by": "worker",
      "legacy": false,
      "doc": "Id of the worker that took the task; only that worker may finish it."
    },
    {
      "name": "result-ttl",
      "type": "integer",
      "by": "producer",
      "legacy": false,
      "doc": "Optional seconds to keep the hash once finished (0 keeps it forever), at most limits.result_ttl_max_seconds. Without it the worker's default applies."
    },
    {
      "name": "retries",
      "type": "integer",
      "by": "producer",
      "legacy": false,
      "doc": "Optional: how many more times the task may run after a failure, a time limit or a dead worker. Without it the function's retry policy applies to failures, and the worker's --recovery-retries (default 2) to a dead worker."
    },
    {
      "name": "timeout",
      "type": "integer",
      "by": "producer",
      "legacy": false,
      "doc": "Optional seconds the task may run before the worker kills it (task exceeded its time limit). Without it the function's or the worker's default applies."
    },
    {
      "name": "attempt",
      "type": "integer",
      "by": "worker",
      "legacy": false,
      "doc": "Which run this is: the claim counts it up (1 for the first). A task given back unstarted at shutdown, or never claimed, does not count."
    },
    {
      "name": "scheduled-for",
      "type": "timestamp",
      "by": "producer, worker",
      "legacy": false,
      "doc": "When a scheduled task is due (the producer's or the retrying worker's clock)."
    },
    {
      "name": "errors",
      "type": "json-array",
      "by": "worker, requeue",
      "legacy": false,
      "doc": "The failures of earlier attempts, oldest first, at most 10: objects with attempt, reason and at (a timestamp), and where known worker (its id) and exception (the last 4000 characters of its error-exception)."
    },
    {
      "name": "orphan-since",
      "type": "integer",
      "by": "worker (recovery)",
      "legacy": false,
      "doc": "Unix milliseconds (the Redis server's clock) when a worker first found the task on executing with no live worker to own it; removed when its owner is seen alive or it is claimed."
    },
    {
      "name": "kill-requested",
      "type": "timestamp",
      "by": "cancel",
      "legacy": false,
      "doc": "When a client asked to kill the task while it was executing. The kill command also goes out on the cmd channel; a worker that was not listening at that moment finds this mark when it listens again."
    },
    {
      "name": "progress",
      "type": "json",
      "by": "worker",
      "legacy": false,
      "doc": "How far the running task got, as the task reported it (a fraction from 0 to 1, or any JSON value, at most 64 KiB); written at most every quarter of a second by the progress script, only for the run named by worker and attempt, and kept once it finished."
    },
    {
      "name": "meta",
      "type": "json-object",
      "by": "producer",
      "legacy": false,
      "doc": "Free metadata from the producer that is not an argument: a trace context (traceparent), a request id. Passed to the worker's event hooks, never to the function."
    }
  ],
  "worker_fields": [
    {
      "name": "hostname",
      "type": "string",
      "legacy": true,
      "doc": "The worker machine's host name."
    },
    {
      "name": "ipaddress",
      "type": "string",
      "legacy": true,
      "doc": "The worker machine's address, as far as it can tell."
    },
    {
      "name": "pid",
      "type": "integer",
      "legacy": true,
      "doc": "The worker process id."
    },
    {
      "name": "registered",
      "type": "timestamp",
      "legacy": true,
      "doc": "When the worker started."
    },
    {
      "name": "schema-version",
      "type": "integer",
      "legacy": false,
      "doc": "The schema version the worker speaks."
    },
    {
      "name": "queue",
      "type": "string",
      "legacy": false,
      "doc": "The queue it serves (its first, when it serves several)."
    },
    {
      "name": "queues",
      "type": "json-array",
      "legacy": false,
      "doc": "Every queue it serves, in the order it takes from them (an earlier queue first)."
    },
    {
      "name": "functions",
      "type": "json-array",
      "legacy": false,
      "doc": "The registered function names it runs."
    },
    {
      "name": "pool",
      "type": "enum",
      "legacy": false,
      "doc": "process (long-lived child processes) or inline (in the worker process)."
    },
    {
      "name": "concurrency",
      "type": "integer",
      "legacy": false,
      "doc": "How many tasks it runs at once."
    },
    {
      "name": "heartbeat",
      "type": "timestamp",
      "legacy": false,
      "doc": "Renewed every heartbeat-interval seconds, together with the key's expiry."
    },
    {
      "name": "heartbeat-interval",
      "type": "integer",
      "legacy": false,
      "doc": "Seconds between heartbeats. The key expires 3 intervals after the last one, so a worker that died hard disappears."
    },
    {
      "name": "version",
      "type": "string",
      "legacy": false,
      "doc": "The doshit package version of the worker."
    },
    {
      "name": "tasks-successful",
      "type": "integer",
      "legacy": false,
      "doc": "Tasks it finished successful since it started; written with each heartbeat."
    },
    {
      "name": "tasks-failed",
      "type": "integer",
      "legacy": false,
      "doc": "Tasks it finished failed since it started; written with each heartbeat."
    },
    {
      "name": "tasks-retried",
      "type": "integer",
      "legacy": false,
      "doc": "Failed runs it scheduled again to retry since it started; written with each heartbeat."
    },
    {
      "name": "busy-seconds",
      "type": "string",
      "legacy": false,
      "doc": "Seconds its tasks ran since it started, summed over its slots (a decimal number); written with each heartbeat."
    }
  ],
  "kill_escalation": {
    "steps": [
      {
        "signal": "SIGINT",
        "times": 10,
        "wait_seconds": 0.1
      },
      {
        "signal": "SIGTERM",
        "times": 1,
        "wait_seconds": 1.0
      },
      {
        "signal": "SIGKILL",
        "times": 1,
        "wait_seconds": 0
      }
    ],
    "doc": "How a worker kills a running task's process group: each signal `times` times, waiting `wait_seconds` after each, until the task has ended. SIGINT is repeated for a second because a child ignores it outside a task: one that arrives while the task is still being handed over would be lost."
  },
  "heartbeat": {
    "interval_seconds": 5,
    "expiry_intervals": 3
  },
  "stats_buckets": [
    "0.005",
    "0.01",
    "0.025",
    "0.05",
    "0.1",
    "0.25",
    "0.5",
    "1",
    "2.5",
    "5",
    "10",
    "30",
    "60",
    "300",
    "+Inf"
  ],
  "result_ttl_seconds": 604800,
  "limits": {
    "max_args_bytes": 16777216,
    "max_result_bytes": 16777216,
    "max_depth": 100,
    "result_ttl_max_seconds": 2147483647,
    "echo_chars": 1000,
    "submit_many_max": 10000,
    "doc": "Defaults of the limits a client and a worker apply (each can be configured): the size of a task's args and of its result as JSON, how deeply they may nest, and the largest result-ttl. A failure never copies more than echo_chars of a bad value into error-exception. One submit_many call writes at most submit_many_max tasks (one script call: Redis serves nobody else meanwhile, about 6 microseconds per task)."
  },
  "error_reasons": {
    "pubsub_killed": "task was pubsub killed",
    "terminated": "task / process was killed before completion",
    "returncode": "task's process returncode was {code}",
    "cancelled": "task was cancelled before it started",
    "empty_function": "task has no function name",
    "bad_state": "task state was '{state}' when a worker took it, expected 'pending'",
    "unknown_function": "no function named '{function}' is registered on this worker",
    "args_not_json": "args is not valid JSON: {detail}",
    "args_not_object": "args must be a JSON object of named arguments, got {kind}",
    "args_bind": "arguments do not match {function}{signature}: {detail}",
    "result_encode": "the return value of {function} cannot be stored as JSON: {detail}",
    "memory_limit_inline": "virtual-memory-limit needs the process pool; this worker runs --pool inline",
    "bad_memory_limit": "virtual-memory-limit must be a positive integer number of bytes, got '{value}'",
    "bad_result_ttl": "result-ttl must be a whole number of seconds from 0 to {limit}, got '{value}'",
    "args_too_large": "args are {size} bytes, more than this worker's limit of {limit}",
    "result_too_large": "the return value of {function} is {size} bytes as JSON, more than this worker's limit of {limit}",
    "too_deep": "{what} nests deeper than this worker's limit of {limit} levels",
    "not_utf8": "{field} is not valid UTF-8",
    "worker_error": "worker error: {detail}",
    "write_failed": "the worker could not write this task's result: {detail}",
    "bad_number": "{field} must be a whole number from {low} to {high}, got '{value}'",
    "no_queue_tag": "on Redis Cluster a task id starts with its queue's name in braces and a colon; this one does not, so no worker can take it",
    "time_limit": "task exceeded its time limit of {seconds} s",
    "worker_died": "worker {worker} died while running the task, attempt {attempt} of {attempts}",
    "cancelled_orphan": "task was cancelled after its worker {worker} died"
  },
  "scripts": {
    "submit": {
      "file": "scripts/submit.lua",
      "keys": [
        "task",
        "pending",
        "scheduled"
      ],
      "argv": [
        "task_id",
        "due_ms",
        "cmd_channel",
        "scheduled_command",
        "field_values..."
      ],
      "reply": {
        "codes": {
          "1": "queued",
          "0": "exists"
        }
      },
      "returns": "1 when queued (LPUSH pending, or ZADD scheduled at due_ms and the scheduled command published when due_ms is not empty), 0 when the task hash already exists (nothing written)",
      "source": "-- submit: create a task hash and queue its id, or schedule it, atomically.\n-- KEYS: task, pending, scheduled\n-- ARGV: task_id, due_ms, cmd_channel, scheduled_command, field_values...\n-- Returns 1 when queued (due_ms empty: LPUSH pending; else ZADD scheduled at due_ms and the scheduled\n-- command published, so idle workers look again), 0 when the task hash already exists (then\n-- nothing is written).\nlocal due = ARGV[2] ~= '' and tonumber(ARGV[2])\nif ARGV[2] ~= '' and not due then\n  return redis.error_reply('due_ms must be a number')\nend\nif redis.call('EXISTS', KEYS[1]) == 1 then\n  return 0\nend\nredis.call('HSET', KEYS[1], unpack(ARGV, 5))\nif due then\n  redis.call('ZADD', KEYS[3], due, ARGV[1])\n  redis.call('PUBLISH', ARGV[3], ARGV[4])\nelse\n  redis.call('LPUSH', KEYS[2], ARGV[1])\nend\nreturn 1\n",
      "sha": "954563a41a66bd2a199438bb880b44c82e31ca7d"
    },
    "submit_many": {
      "file": "scripts/submit_many.lua",
      "keys": [
        "pending",
        "scheduled",
        "task*"
      ],
      "argv": [
        "cmd_channel",
        "scheduled_command",
        "count",
        "common_fields",
        "tasks*"
      ],
      "reply": {
        "tagged": {
          "queued": [
            "count"
          ],
          "exists": [
            "task_ids"
          ]
        }
      },
      "returns": "{'queued', count}: all written as submit writes them, ids LPUSHed in order (or ZADDed to scheduled); {'exists', JSON array of the taken ids}: none written. tasks*: task_id, due_ms, n, then n own field/value pairs, over common_fields (JSON)",
      "source": "-- submit_many: create many task hashes and queue or schedule their ids, all or none, atomically.\n-- KEYS: pending, scheduled, task*\n-- ARGV: cmd_channel, scheduled_command, count, common_fields, tasks*\n-- One task key per task, in the order of the tasks. common_fields is a JSON object of the fields\n-- every task gets; tasks* holds per task its task_id, due_ms, the number n of its own fields, and n\n-- field/value pairs (2n items), which win over common_fields.\n-- Returns {'queued', count} when every task was written: hashes as the submit script writes them,\n-- the queued ids LPUSHed in the order given (so a worker takes them in that order), the scheduled\n-- ones ZADDed and the scheduled command published once; or {'exists', ids as a JSON array} when any\n-- task hash already exists, and then nothing is written. Everything is checked before the first\n-- write.\nlocal count = tonumber(ARGV[3])\nif not count or count < 1 or count ~= #KEYS - 2 then\n  return redis.error_reply('count must be the number of task keys')\nend\nlocal ok, common = pcall(cjson.decode, ARGV[4])\nif not ok or type(common) ~= 'table' then\n  return redis.error_reply('common_fields must be a JSON object')\nend\nlocal base = {}\nfor field, value in pairs(common) do\n  if type(field) ~= 'string' or type(value) ~= 'string' then\n    return redis.error_reply('common_fields must map names to strings')\n  end\n  base[#base + 1] = field\n  base[#base + 1] = value\nend\nlocal starts, dues = {}, {}\nlocal at = 5\nfor i = 1, count do\n  if at + 2 > #ARGV then\n    return redis.error_reply('ARGV ends before its last task')\n  end\n  local due = ARGV[at + 1] ~= '' and tonumber(ARGV[at + 1])\n  if ARGV[at + 1] ~= '' and not due then\n    return redis.error_reply('due_ms must be a number')\n  end\n  local n = tonumber(ARGV[at + 2])\n  if not n or n < 0 or n ~= math.floor(n) or (n == 0 and #base == 0) then\n    return redis.error_reply('a task needs a whole number of fields, and at least one field')\n  end\n  starts[i], dues[i] = at, due\n  at = at + 3 + 2 * n\nend\nif at - 1 ~= #ARGV then\n  return redis.error_reply('ARGV does not match the field counts of its tasks')\nend\nlocal existing = {}\nfor i = 1, count do\n  if redis.call('EXISTS', KEYS[i + 2]) == 1 then\n    existing[#existing + 1] = ARGV[starts[i]]\n  end\nend\nif #existing > 0 then\n  return {'exists', cjson.encode(existing)}\nend\nlocal queued, scheduled = {}, false\nfor i = 1, count do\n  local first = starts[i]\n  local fields = {unpack(base)}\n  for j = first + 3, first + 2 + 2 * tonumber(ARGV[first + 2]) do\n    fields[#fields + 1] = ARGV[j]\n  end\n  redis.call('HSET', KEYS[i + 2], unpack(fields))\n  if dues[i] then\n    redis.call('ZADD', KEYS[2], dues[i], ARGV[first])\n    scheduled = true\n  else\n    queued[#queued + 1] = ARGV[first]\n    if #queued == 1000 then\n      redis.call('LPUSH', KEYS[1], unpack(queued))\n      queued = {}\n    end\n  end\nend\nif #queued > 0 then\n  redis.call('LPUSH', KEYS[1], unpack(queued))\nend\nif scheduled then\n  redis.call('PUBLISH', ARGV[1], ARGV[2])\nend\nreturn {'queued', count}\n",
      "sha": "1be15310465527b679909abf42f6b6b2ee2ecb33"
    },
    "claim": {
      "file": "scripts/claim.lua",
      "keys": [
        "task",
        "executing",
        "pending",
        "scheduled"
      ],
      "argv": [
        "task_id",
        "worker_id",
        "queue",
        "now",
        "max_args_bytes"
      ],
      "reply": {
        "tagged": {
          "run": [
            "function",
            "args",
            "virtual-memory-limit",
            "result-ttl",
            "attempt",
            "retries",
            "timeout",
            "backlog"
          ],
          "invalid": [
            "state",
            "function",
            "attempt",
            "backlog"
          ],
          "toobig": [
            "function",
            "size",
            "attempt",
            "backlog"
          ],
          "skip": [
            "state",
            "backlog"
          ],
          "missing": [
            "backlog"
          ],
          "wrongtype": [
            "type",
            "backlog"
          ]
        }
      },
      "returns": "{'run', function, args, virtual-memory-limit, result-ttl, attempt, retries, timeout} or {'invalid', state, function, attempt} or {'toobig', function, size of args, attempt} (claimed, attempt counted, to be failed) or {'skip', state} or {'missing'} or {'wrongtype', type} (id dropped from executing); each followed by the pending list's length",
      "source": "-- claim: a worker takes a task whose id it has just moved from pending to executing.\n-- KEYS: task, executing, pending, scheduled\n-- ARGV: task_id, worker_id, queue, now, max_args_bytes\n-- Returns one of these, each followed by the pending list's length (so the worker knows whether\n-- to take more at once or wait):\n--   {'run', function, args, virtual-memory-limit, result-ttl, attempt, retries, timeout, n}\n--                                                  claimed; run it\n--   {'invalid', state, function, attempt, n}       claimed, but it cannot run; the worker fails it\n--   {'toobig', function, size, attempt, n}         claimed, but its args are over max_args_bytes\n--   {'skip', state, n}                 another worker runs it, it is finished, or it waits in the\n--                                      scheduled set (an id pushed twice); id dropped\n--   {'missing', n}                     no such key; id dropped\n--   {'wrongtype', type, n}             the key is not a hash (not a task); id dropped, key untouched\n-- A claim counts an attempt. The same claim made again (the worker's retry after the reply was lost:\n-- the task executing under this worker since this very claim time) writes nothing and answers as\n-- the claim did. Every check comes before the first write, so an error leaves nothing half done.\nlocal backlog = redis.call('LLEN', KEYS[3])\nlocal kind = redis.call('TYPE', KEYS[1])['ok']\nif kind ~= 'hash' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  if kind == 'none' then\n    return {'missing', backlog}\n  end\n  return {'wrongtype', kind, backlog}\nend\nlocal f = redis.call('HMGET', KEYS[1], 'state', 'function', 'args', 'virtual-memory-limit', 'result-ttl',\n  'attempt', 'retries', 'timeout', 'orphan-since', 'worker', 'executing-created')\nlocal state, fn, args = f[1], f[2], f[3]\nlocal again = state == 'executing' and f[10] == ARGV[2] and f[11] == ARGV[4]\nif (state == 'executing' and not again) or state == 'finished'\n    or (state == 'scheduled' and redis.call('ZSCORE', KEYS[4], ARGV[1])) then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  return {'skip', state, backlog}\nend\nlocal attempt = tonumber(f[6])\nif not attempt or attempt < 0 or attempt > 1000000 or attempt % 1 ~= 0 then\n  attempt = 0\nend\nif not again then\n  attempt = attempt + 1\n  redis.call('HSET', KEYS[1], 'state', 'executing', 'executing-created', ARGV[4],\n    'worker', ARGV[2], 'queue', ARGV[3], 'attempt', attempt)\n  if f[9] then\n    redis.call('HDEL', KEYS[1], 'orphan-since')\n  end\nend\nif (state ~= 'pending' and not again) or not fn or fn == '' then\n  return {'invalid', state or '', fn or '', attempt, backlog}\nend\nif args and #args > tonumber(ARGV[5]) then\n  return {'toobig', fn, #args, attempt, backlog}\nend\nreturn {'run', fn, args or '', f[4] or '', f[5] or '', attempt, f[7] or '', f[8] or '', backlog}\n",
      "sha": "07e541f7acc95b62cef8a2c62dd4c0fe9de46e24"
    },
    "finish": {
      "file": "scripts/finish.lua",
      "keys": [
        "task",
        "executing",
        "failed"
      ],
      "argv": [
        "task_id",
        "worker_id",
        "attempt",
        "results_channel",
        "default_ttl",
        "failed_at_ms",
        "field_values..."
      ],
      "reply": {
        "codes": {
          "1": "finished",
          "0": "gone",
          "-1": "not_owner",
          "-2": "wrongtype"
        }
      },
      "returns": "1 finished and published (and indexed in failed when failed_at_ms is given), 0 the hash is gone, -1 the task is no longer this worker's run to finish (state, worker or attempt differ), -2 the key is not a hash (id dropped from executing)",
      "source": "-- finish: record a task's result, drop its id from executing, publish its hash key.\n-- KEYS: task, executing, failed\n-- ARGV: task_id, worker_id, attempt, results_channel, default_ttl, failed_at_ms, field_values...\n-- Returns 1 finished and published (a failed task also indexed in failed at failed_at_ms), 0 the\n-- hash is gone (its id is dropped from executing), -1 the task is no longer this worker's run to\n-- finish (state is not executing, or another worker or a later attempt owns it): then nothing is\n-- touched, not even executing, whose entry is no longer this run's either; -2 the key is not a hash\n-- (its id is dropped from executing, the key left alone).\n-- Every check comes before the first write, so an error leaves nothing half done.\nlocal failed_at = ARGV[6] ~= '' and tonumber(ARGV[6])\nif ARGV[6] ~= '' and not failed_at then\n  return redis.error_reply('failed_at_ms must be a number')\nend\nlocal kind = redis.call('TYPE', KEYS[1])['ok']\nif kind ~= 'hash' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  if kind == 'none' then\n    return 0\n  end\n  return -2\nend\nlocal owner = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt', 'result-ttl', 'orphan-since')\nif owner[1] ~= 'executing' or owner[2] ~= ARGV[2] or owner[3] ~= ARGV[3] then\n  return -1\nend\n-- The task's own result-ttl when it is a plain number EXPIRE takes (the worker refused a task whose\n-- result-ttl was out of range when it claimed it; this only guards against a later change).\nlocal ttl = tonumber(ARGV[5])\nif owner[4] and string.match(owner[4], '^%d+$') and #owner[4] <= 10 then\n  ttl = tonumber(owner[4])\nend\nredis.call('LREM', KEYS[2], 1, ARGV[1])\nredis.call('HSET', KEYS[1], unpack(ARGV, 7))\nif owner[5] then\n  redis.call('HDEL', KEYS[1], 'orphan-since')\nend\nif ttl > 0 then\n  redis.call('EXPIRE', KEYS[1], ttl)\nend\nif failed_at then\n  redis.call('ZADD', KEYS[3], failed_at, ARGV[1])\nend\nredis.call('PUBLISH', ARGV[4], KEYS[1])\nreturn 1\n",
      "sha": "4c9926ee293bde137589129877efe79a07ccb22b"
    },
    "retry": {
      "file": "scripts/retry.lua",
      "keys": [
        "task",
        "executing",
        "scheduled"
      ],
      "argv": [
        "task_id",
        "worker_id",
        "attempt",
        "due_ms",
        "error_json",
        "cmd_channel",
        "scheduled_command",
        "field_values..."
      ],
      "reply": {
        "codes": {
          "1": "scheduled",
          "0": "gone",
          "-1": "not_owner",
          "-2": "wrongtype"
        }
      },
      "returns": "1 the failed run is recorded in errors and the task scheduled again at due_ms, 0 the hash is gone, -1 not this worker's run, -2 the key is not a hash (id dropped from executing)",
      "source": "-- retry: a failed run with retries left: record its error, and schedule the task again.\n-- KEYS: task, executing, scheduled\n-- ARGV: task_id, worker_id, attempt, due_ms, error_json, cmd_channel, scheduled_command, field_values...\n-- Returns 1 scheduled at due_ms (error_json appended to errors, at most the last 10 kept, and the\n-- scheduled command published), 0 the hash is gone (id dropped from executing), -1 the task is no\n-- longer this worker's run (nothing touched), -2 the key is not a hash (id dropped from executing).\n-- Every check comes before the first write, so an error leaves nothing half done.\nlocal due = tonumber(ARGV[4])\nlocal ok, entry = pcall(cjson.decode, ARGV[5])\nif not due or not ok or type(entry) ~= 'table' then\n  return redis.error_reply('due_ms must be a number and error_json a JSON object')\nend\nlocal kind = redis.call('TYPE', KEYS[1])['ok']\nif kind ~= 'hash' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  if kind == 'none' then\n    return 0\n  end\n  return -2\nend\nlocal owner = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt', 'errors')\nif owner[1] ~= 'executing' or owner[2] ~= ARGV[2] or owner[3] ~= ARGV[3] then\n  return -1\nend\nlocal decoded, errors = pcall(cjson.decode, owner[4] or '[]')\nif not decoded or type(errors) ~= 'table' or (next(errors) ~= nil and #errors == 0) then\n  errors = {}  -- not a list written by doshit: start the history again\nend\ntable.insert(errors, entry)\nwhile #errors > 10 do\n  table.remove(errors, 1)\nend\nredis.call('LREM', KEYS[2], 1, ARGV[1])\nredis.call('HSET', KEYS[1], 'errors', cjson.encode(errors), unpack(ARGV, 8))\nredis.call('HDEL', KEYS[1], 'worker', 'executing-created', 'kill-requested', 'orphan-since')\nredis.call('ZADD', KEYS[3], due, ARGV[1])\nredis.call('PUBLISH', ARGV[6], ARGV[7])\nreturn 1\n",
      "sha": "6d3a8c17832c20e98671955ff8717f03c1556d28"
    },
    "promote": {
      "file": "scripts/promote.lua",
      "keys": [
        "task",
        "scheduled",
        "pending"
      ],
      "argv": [
        "task_id"
      ],
      "reply": {
        "codes": {
          "1": "promoted",
          "0": "taken",
          "-1": "not_scheduled",
          "-2": "wrongtype"
        }
      },
      "returns": "1 moved to pending, 0 another worker promoted or a client cancelled it first, -1 its state is not scheduled (dropped from scheduled), -2 the key is not a hash (dropped from scheduled)",
      "source": "-- promote: a scheduled task whose time has come goes to pending. Any number of workers may try the\n-- same task at once: only the one whose ZREM takes it off scheduled moves it.\n-- KEYS: task, scheduled, pending\n-- ARGV: task_id\n-- Returns 1 promoted (state pending, LPUSH pending), 0 already promoted or cancelled, -1 its state is\n-- not scheduled (taken off scheduled, left alone), -2 the key is not a hash (taken off scheduled).\nif redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then\n  return 0\nend\nif redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then\n  return -2\nend\nif redis.call('HGET', KEYS[1], 'state') ~= 'scheduled' then\n  return -1\nend\nredis.call('HSET', KEYS[1], 'state', 'pending')\nredis.call('LPUSH', KEYS[3], ARGV[1])\nreturn 1\n",
      "sha": "26251a87fbf45379a80015b46b72293ddd251c7c"
    },
    "recover": {
      "file": "scripts/recover.lua",
      "keys": [
        "task",
        "executing",
        "pending",
        "failed",
        "owner"
      ],
      "argv": [
        "task_id",
        "owner_id",
        "now",
        "grace_ms",
        "default_retries",
        "reason",
        "results_channel",
        "default_ttl",
        "cancelled_reason",
        "owner_alive"
      ],
      "reply": {
        "words": [
          "alive",
          "marked",
          "waiting",
          "requeued",
          "failed",
          "gone",
          "legacy",
          "dropped",
          "skip"
        ]
      },
      "returns": "for an id on executing: 'alive' (its worker lives), 'marked' (no live owner: orphan-since set), 'waiting' (marked, grace not over), 'requeued' (back to pending, taken next), 'failed' (its attempts are used, or a client cancelled it: finished failed), 'gone' (another recovery took it), 'legacy' (a legacy worker runs it: never touched), 'dropped' (the key is not a task hash, or the task is finished: its id taken off executing), 'skip' (owner changed, or not a state to recover)",
      "source": "-- recover: look at one id on executing and give back the task of a worker that is gone.\n-- KEYS: task, executing, pending, failed, owner\n-- ARGV: task_id, owner_id, now, grace_ms, default_retries, reason, results_channel, default_ttl, cancelled_reason, owner_alive\n-- owner is the key of the worker the caller read in the task's worker field (owner_id; empty when\n-- there was none). A task has no live owner when its worker hash is gone, or when it was popped but\n-- never claimed (state pending). Such a task is marked (orphan-since) the first time and handled only\n-- when the mark is at least grace_ms old and the owner still gone: a worker that is alive renews its\n-- hash long before, and its mark is taken off. The id of a task that is already finished (cancelled\n-- while its worker was dead) is dropped. A task a client asked to kill (kill-requested) is not given\n-- back: it is finished failed with cancelled_reason.\n-- owner_alive is empty to look at the owner key here; on Redis Cluster, where the worker's key sits in\n-- another slot, the caller looks (EXISTS) just before and says 1 or 0, and owner is the task key\n-- (a key of this slot the script does not read as an owner).\n-- Returns 'alive', 'marked', 'waiting', 'requeued' (a popped or an orphaned task with attempts left:\n-- RPUSH pending, taken next; the error appended to errors), 'failed' (attempts used: finished failed\n-- with the reason, expired, indexed, published), 'gone' (another recovery took it), 'legacy' (run by a\n-- legacy worker, which writes no worker field: never touched), 'dropped' (not a task hash, or finished:\n-- id taken off executing), 'skip' (the owner changed, or the state is not one to recover).\n-- Marks and their age are read on the Redis server's clock, so workers whose clocks disagree agree.\nlocal clock = redis.call('TIME')\nlocal now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)\nlocal grace = tonumber(ARGV[4])\nlocal default_retries = tonumber(ARGV[5])\nlocal kind = redis.call('TYPE', KEYS[1])['ok']\nif kind ~= 'hash' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  return 'dropped'\nend\nlocal f = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt', 'retries', 'orphan-since', 'errors',\n  'result-ttl', 'kill-requested')\nlocal state, worker, since = f[1], f[2], tonumber(f[5])\nif state == 'finished' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  return 'dropped'\nend\nif state == 'executing' and not worker then\n  return 'legacy'\nend\nif state == 'executing' then\n  if worker ~= ARGV[2] then\n    return 'skip'\n  end\n  local told = tonumber(ARGV[10])\n  local alive = (told and told > 0) or (not told and redis.call('EXISTS', KEYS[5]) == 1)\n  if alive then\n    if f[5] then\n      redis.call('HDEL', KEYS[1], 'orphan-since')\n    end\n    return 'alive'\n  end\nelseif state ~= 'pending' then\n  return 'skip'\nend\nif not since then\n  if not redis.call('LPOS', KEYS[2], ARGV[1]) then  -- another recovery gave it back since the caller looked\n    return 'gone'\n  end\n  redis.call('HSET', KEYS[1], 'orphan-since', now)\n  return 'marked'\nend\nif now - since < grace then\n  return 'waiting'\nend\nif redis.call('LREM', KEYS[2], 1, ARGV[1]) == 0 then\n  redis.call('HDEL', KEYS[1], 'orphan-since')\n  return 'gone'\nend\nredis.call('HDEL', KEYS[1], 'orphan-since')\nif state == 'pending' then  -- popped but never claimed: no attempt was used\n  redis.call('RPUSH', KEYS[3], ARGV[1])\n  return 'requeued'\nend\nlocal attempt = tonumber(f[3]) or 1\nlocal retries = tonumber(f[4]) or default_retries\nlocal attempts = attempt\nif attempt < 1 + retries then\n  attempts = 1 + retries\nend\nlocal function escaped(text)\n  return (string.gsub(tostring(text), '%%', '%%%%'))\nend\nlocal template = ARGV[6]\nif f[8] then\n  template = ARGV[9]\nend\nlocal reason = string.gsub(template, '{worker}', escaped(worker))\nreason = string.gsub(reason, '{attempt}', escaped(attempt))\nreason = string.gsub(reason, '{attempts}', escaped(attempts))\nlocal decoded, errors = pcall(cjson.decode, f[6] or '[]')\nif not decoded or type(errors) ~= 'table' or (next(errors) ~= nil and #errors == 0) then\n  errors = {}\nend\ntable.insert(errors, {attempt = attempt, worker = worker, reason = reason, at = ARGV[3]})\nwhile #errors > 10 do\n  table.remove(errors, 1)\nend\nif attempt < 1 + retries and not f[8] then\n  redis.call('HSET', KEYS[1], 'state', 'pending', 'errors', cjson.encode(errors))\n  redis.call('HDEL', KEYS[1], 'worker', 'executing-created', 'kill-requested')\n  redis.call('RPUSH', KEYS[3], ARGV[1])\n  return 'requeued'\nend\nlocal ttl = tonumber(ARGV[8])\nif f[7] and string.match(f[7], '^%d+$') and #f[7] <= 10 then\n  ttl = tonumber(f[7])\nend\nredis.call('HSET', KEYS[1], 'state', 'finished', 'result', 'failed', 'error-reason', reason,\n  'finished-created', ARGV[3], 'errors', cjson.encode(errors))\nif ttl > 0 then\n  redis.call('EXPIRE', KEYS[1], ttl)\nend\nredis.call('ZADD', KEYS[4], now, ARGV[1])\nredis.call('PUBLISH', ARGV[7], KEYS[1])\nreturn 'failed'\n",
      "sha": "207975bfeda18225c6e93d3e796cfcd52d240cbb"
    },
    "requeue": {
      "file": "scripts/requeue.lua",
      "keys": [
        "task",
        "pending",
        "failed"
      ],
      "argv": [
        "task_id"
      ],
      "reply": {
        "words": [
          "requeued",
          "not_failed",
          "missing"
        ]
      },
      "returns": "'requeued' (a failed task, pending again with its history kept), 'not_failed' (nothing changed), 'missing' (no task hash)",
      "source": "-- requeue: run a failed task again. Its failure joins the history in errors, its result fields and\n-- attempt count go, it no longer expires, and it is pushed on pending as a new task would be.\n-- KEYS: task, pending, failed\n-- ARGV: task_id\n-- Returns 'requeued', 'not_failed' (it is not a finished, failed task: nothing changed) or 'missing'.\nif redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then\n  return 'missing'\nend\nlocal f = redis.call('HMGET', KEYS[1], 'state', 'result', 'attempt', 'error-reason', 'finished-created', 'errors',\n  'worker', 'error-exception')\nif f[1] ~= 'finished' or f[2] ~= 'failed' then\n  return 'not_failed'\nend\nlocal decoded, errors = pcall(cjson.decode, f[6] or '[]')\nif not decoded or type(errors) ~= 'table' or (next(errors) ~= nil and #errors == 0) then\n  errors = {}\nend\nlocal entry = {attempt = tonumber(f[3]) or 0, reason = f[4] or '', at = f[5] or ''}\nif f[7] then\n  entry.worker = f[7]\nend\nif f[8] and #f[8] > 0 then  -- its last 4000 bytes, from the start of a UTF-8 character\n  entry.exception = (string.gsub(string.sub(f[8], -4000), '^[\\128-\\191]+', ''))\nend\ntable.insert(errors, entry)\nwhile #errors > 10 do\n  table.remove(errors, 1)\nend\nredis.call('HDEL', KEYS[1], 'result', 'result-value', 'error-reason', 'error-exception', 'finished-created',\n  'worker', 'executing-created', 'kill-requested', 'orphan-since', 'attempt', 'progress')\nredis.call('HSET', KEYS[1], 'state', 'pending', 'errors', cjson.encode(errors))\nredis.call('PERSIST', KEYS[1])\nredis.call('ZREM', KEYS[3], ARGV[1])\nredis.call('LPUSH', KEYS[2], ARGV[1])\nreturn 'requeued'\n",
      "sha": "13a82ed0c30dea6863d4fbfcd443e53e08269516"
    },
    "progress": {
      "file": "scripts/progress.lua",
      "keys": [
        "task"
      ],
      "argv": [
        "task_id",
        "worker_id",
        "attempt",
        "value"
      ],
      "reply": {
        "codes": {
          "1": "written",
          "0": "not_running"
        }
      },
      "returns": "1 when the progress field was written, 0 when the task is not executing under that worker and attempt any more (nothing written)",
      "source": "-- progress: record how far a running task got, for the run that reports it only.\n-- KEYS: task\n-- ARGV: task_id, worker_id, attempt, value\n-- Returns 1 when written, 0 when the task is not that run any more (finished, taken over, gone).\nif redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then\n  return 0\nend\nlocal f = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt')\nif f[1] ~= 'executing' or f[2] ~= ARGV[2] or f[3] ~= ARGV[3] then\n  return 0\nend\nredis.call('HSET', KEYS[1], 'progress', ARGV[4])\nreturn 1\n",
      "sha": "3debc9346fd1263372159eb7226ff43cbba04987"
    },
    "unclaim": {
      "file": "scripts/unclaim.lua",
      "keys": [
        "task",
        "executing",
        "pending"
      ],
      "argv": [
        "task_id",
        "worker_id"
      ],
      "reply": {
        "codes": {
          "1": "given_back",
          "0": "not_owner"
        }
      },
      "returns": "1 given back (its attempt uncounted), 0 not this worker's to give back",
      "source": "-- unclaim: give back a task this worker claimed but never started (it was waiting for a free\n-- slot when the worker shut down). It goes to the right end of pending, so it is taken next, and\n-- its claim does not count as an attempt.\n-- KEYS: task, executing, pending\n-- ARGV: task_id, worker_id\n-- Returns 1 when given back, 0 when the task was not this worker's to give back.\nlocal fields = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt')\nif fields[1] ~= 'executing' or fields[2] ~= ARGV[2] then\n  return 0\nend\nlocal attempt = tonumber(fields[3])\nredis.call('HSET', KEYS[1], 'state', 'pending')\nredis.call('HDEL', KEYS[1], 'executing-created', 'worker')\nif attempt and attempt > 1 then\n  redis.call('HSET', KEYS[1], 'attempt', attempt - 1)\nelse\n  redis.call('HDEL', KEYS[1], 'attempt')\nend\nredis.call('LREM', KEYS[2], 1, ARGV[1])\nredis.call('RPUSH', KEYS[3], ARGV[1])\nreturn 1\n",
      "sha": "1ba4285760f78097e951a9547b03370884106187"
    },
    "cancel": {
      "file": "scripts/cancel.lua",
      "keys": [
        "task",
        "pending",
        "scheduled",
        "failed"
      ],
      "argv": [
        "task_id",
        "owner_id",
        "owner_gone",
        "results_channel",
        "cmd_channel",
        "kill_command",
        "now",
        "now_ms",
        "reason",
        "orphan_reason",
        "default_ttl"
      ],
      "reply": {
        "words": [
          "cancelled",
          "killing",
          "finished",
          "missing"
        ]
      },
      "returns": "'cancelled' (it was pending or scheduled, or executing under a worker a recovery found gone: finished failed), 'killing' (kill-requested set, kill command sent; the recovery finishes it if its worker is dead), 'finished', or 'missing' (no task hash)",
      "source": "-- cancel: stop a task. One that is not executing (pending, scheduled, or a state no worker would run),\n-- or that executes under a worker that is gone, is finished failed at once (taken off pending or\n-- scheduled; an id left on executing is dropped by the next recovery round, so a client needs no\n-- access to executing); for one a live worker runs, the kill is marked in the hash (kill-requested)\n-- and the kill command goes to the workers.\n-- KEYS: task, pending, scheduled, failed\n-- ARGV: task_id, owner_id, owner_gone, results_channel, cmd_channel, kill_command, now, now_ms, reason, orphan_reason, default_ttl\n-- owner_id is the task's worker field when the caller read it, owner_gone '1' when that worker's key\n-- did not exist then (a producer may only read worker keys, and a script must be allowed to write\n-- every key it is given). The worker is taken for dead only when, besides, a recovery round found it\n-- gone before (orphan-since): a worker hash can be missing for a moment from a live worker (Redis\n-- restarted without its data, until the next heartbeat). A task whose worker just died gets the kill\n-- mark, and the recovery finishes it with orphan_reason instead of giving it back.\n-- Returns 'cancelled', 'killing', 'finished' or 'missing' (no task hash).\n-- Every check comes before the first write, so an error leaves nothing half done.\nlocal now_ms = tonumber(ARGV[8])\nif not now_ms then\n  return redis.error_reply('now_ms must be a number')\nend\nif redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then\n  return 'missing'\nend\nlocal fields = redis.call('HMGET', KEYS[1], 'state', 'result-ttl', 'worker', 'orphan-since')\nlocal state, own = fields[1], fields[2]\nif not state then\n  return 'missing'\nend\nif state == 'finished' then\n  return 'finished'\nend\nif state == 'executing' then\n  local dead = fields[3] and fields[3] == ARGV[2] and tonumber(ARGV[3]) == 1 and fields[4]\n  if not dead then\n    redis.call('HSET', KEYS[1], 'kill-requested', ARGV[7])\n    redis.call('PUBLISH', ARGV[5], ARGV[6])\n    return 'killing'\n  end\nend\nlocal reason = ARGV[9]\nif state == 'executing' then  -- in case the worker lives after all: its run stops, its result is refused\n  reason = ARGV[10]\n  redis.call('PUBLISH', ARGV[5], ARGV[6])\nend\nlocal ttl = tonumber(ARGV[11])\nif own and string.match(own, '^%d+$') and #own <= 10 then\n  ttl = tonumber(own)\nend\nredis.call('LREM', KEYS[2], 0, ARGV[1])\nredis.call('ZREM', KEYS[3], ARGV[1])\nredis.call('HDEL', KEYS[1], 'orphan-since')\nredis.call('HSET', KEYS[1], 'state', 'finished', 'result', 'failed',\n  'error-reason', reason, 'finished-created', ARGV[7])\nif ttl > 0 then\n  redis.call('EXPIRE', KEYS[1], ttl)\nend\nredis.call('ZADD', KEYS[4], now_ms, ARGV[1])\nredis.call('PUBLISH', ARGV[4], KEYS[1])\nreturn 'cancelled'\n",
      "sha": "8878efad838054aa8358147c517d5a05f0b3c32b"
    }
  }
});
