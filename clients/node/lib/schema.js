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
      "unix"
    ],
    "environment": {
      "url": {
        "name": "DOSHIT_REDIS_URL",
        "legacy": false,
        "doc": "redis://, rediss:// or unix:// URL, with user and password if needed."
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
    "workers": {
      "pattern": "{prefix}:workers",
      "type": "zset",
      "legacy": false,
      "doc": "Ids of the workers of this prefix, scored by when their worker hash expires (unix seconds, renewed with each heartbeat): an index to find the live workers without scanning keys. A member whose hash is gone is a worker that died."
    }
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
    "finished": "Terminal. `result` says successful or failed. A finished task never changes again."
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
      "how": "cancel script: LREM pending, result failed with the cancelled reason, EXPIRE, PUBLISH"
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
      "doc": "pending, executing or finished."
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
      "name": "kill-requested",
      "type": "timestamp",
      "by": "cancel",
      "legacy": false,
      "doc": "When a client asked to kill the task while it was executing. The kill command also goes out on the cmd channel; a worker that was not listening at that moment finds this mark when it listens again."
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
      "doc": "The queue it serves."
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
  "result_ttl_seconds": 604800,
  "limits": {
    "max_args_bytes": 16777216,
    "max_result_bytes": 16777216,
    "max_depth": 100,
    "result_ttl_max_seconds": 2147483647,
    "echo_chars": 1000,
    "doc": "Defaults of the limits a client and a worker apply (each can be configured): the size of a task's args and of its result as JSON, how deeply they may nest, and the largest result-ttl. A failure never copies more than echo_chars of a bad value into error-exception."
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
    "write_failed": "the worker could not write this task's result: {detail}"
  },
  "scripts": {
    "submit": {
      "file": "scripts/submit.lua",
      "keys": [
        "task",
        "pending"
      ],
      "argv": [
        "task_id",
        "field_values..."
      ],
      "reply": {
        "codes": {
          "1": "queued",
          "0": "exists"
        }
      },
      "returns": "1 when queued, 0 when the task hash already exists (nothing written)",
      "source": "-- submit: create a task hash and queue its id, atomically.\n-- KEYS: task, pending\n-- ARGV: task_id, field_values...\n-- Returns 1 when queued, 0 when the task hash already exists (then nothing is written).\nif redis.call('EXISTS', KEYS[1]) == 1 then\n  return 0\nend\nredis.call('HSET', KEYS[1], unpack(ARGV, 2))\nredis.call('LPUSH', KEYS[2], ARGV[1])\nreturn 1\n",
      "sha": "30f29da238cb1be2c00617f318fc41a41f5e2006"
    },
    "claim": {
      "file": "scripts/claim.lua",
      "keys": [
        "task",
        "executing",
        "pending"
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
            "backlog"
          ],
          "invalid": [
            "state",
            "function",
            "backlog"
          ],
          "toobig": [
            "function",
            "size",
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
      "returns": "{'run', function, args, virtual-memory-limit, result-ttl} or {'invalid', state, function} or {'toobig', function, size of args} (claimed, to be failed) or {'skip', state} or {'missing'} or {'wrongtype', type} (id dropped from executing); each followed by the pending list's length",
      "source": "-- claim: a worker takes a task whose id it has just moved from pending to executing.\n-- KEYS: task, executing, pending\n-- ARGV: task_id, worker_id, queue, now, max_args_bytes\n-- Returns one of these, each followed by the pending list's length (so the worker knows whether\n-- to take more at once or wait):\n--   {'run', function, args, virtual-memory-limit, result-ttl, n}  claimed; run it\n--   {'invalid', state, function, n}    claimed, but it cannot run; the worker fails it\n--   {'toobig', function, size, n}      claimed, but its args are over max_args_bytes; the worker fails it\n--   {'skip', state, n}                 another worker runs it or it is finished; id dropped\n--   {'missing', n}                     no such key; id dropped\n--   {'wrongtype', type, n}             the key is not a hash (not a task); id dropped, key untouched\n-- Every check comes before the first write, so an error leaves nothing half done.\nlocal backlog = redis.call('LLEN', KEYS[3])\nlocal kind = redis.call('TYPE', KEYS[1])['ok']\nif kind ~= 'hash' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  if kind == 'none' then\n    return {'missing', backlog}\n  end\n  return {'wrongtype', kind, backlog}\nend\nlocal fields = redis.call('HMGET', KEYS[1], 'state', 'function', 'args', 'virtual-memory-limit', 'result-ttl')\nlocal state, fn, args, vml, ttl = fields[1], fields[2], fields[3], fields[4], fields[5]\nif state == 'executing' or state == 'finished' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  return {'skip', state, backlog}\nend\nredis.call('HSET', KEYS[1], 'state', 'executing', 'executing-created', ARGV[4],\n  'worker', ARGV[2], 'queue', ARGV[3])\nif state ~= 'pending' or not fn or fn == '' then\n  return {'invalid', state or '', fn or '', backlog}\nend\nif args and #args > tonumber(ARGV[5]) then\n  return {'toobig', fn, #args, backlog}\nend\nreturn {'run', fn, args or '', vml or '', ttl or '', backlog}\n",
      "sha": "9ac6b8011d9406c1900bcf4a52e25207e3a29c1d"
    },
    "finish": {
      "file": "scripts/finish.lua",
      "keys": [
        "task",
        "executing"
      ],
      "argv": [
        "task_id",
        "worker_id",
        "results_channel",
        "default_ttl",
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
      "returns": "1 finished and published, 0 the hash is gone, -1 the task is no longer this worker's to finish, -2 the key is not a hash (id dropped from executing)",
      "source": "-- finish: record a task's result, drop its id from executing, publish its hash key.\n-- KEYS: task, executing\n-- ARGV: task_id, worker_id, results_channel, default_ttl, field_values...\n-- Returns 1 finished and published, 0 the hash is gone (its id is dropped from executing), -1 the\n-- task is no longer this worker's to finish (state is not executing, or another worker took it);\n-- then nothing is touched, not even executing, whose entry is no longer this worker's either; -2 the\n-- key is not a hash (its id is dropped from executing, the key left alone).\n-- Every check comes before the first write, so an error leaves nothing half done.\nlocal kind = redis.call('TYPE', KEYS[1])['ok']\nif kind ~= 'hash' then\n  redis.call('LREM', KEYS[2], 1, ARGV[1])\n  if kind == 'none' then\n    return 0\n  end\n  return -2\nend\nlocal owner = redis.call('HMGET', KEYS[1], 'state', 'worker', 'result-ttl')\nif owner[1] ~= 'executing' or owner[2] ~= ARGV[2] then\n  return -1\nend\n-- The task's own result-ttl when it is a plain number EXPIRE takes (the worker refused a task whose\n-- result-ttl was out of range when it claimed it; this only guards against a later change).\nlocal ttl = tonumber(ARGV[4])\nif owner[3] and string.match(owner[3], '^%d+$') and #owner[3] <= 10 then\n  ttl = tonumber(owner[3])\nend\nredis.call('LREM', KEYS[2], 1, ARGV[1])\nredis.call('HSET', KEYS[1], unpack(ARGV, 5))\nif ttl > 0 then\n  redis.call('EXPIRE', KEYS[1], ttl)\nend\nredis.call('PUBLISH', ARGV[3], KEYS[1])\nreturn 1\n",
      "sha": "6ee07dff181cfe90a21f3474b2806242759f5f91"
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
      "returns": "1 given back, 0 not this worker's to give back",
      "source": "-- unclaim: give back a task this worker claimed but never started (it was waiting for a free\n-- slot when the worker shut down). It goes to the right end of pending, so it is taken next.\n-- KEYS: task, executing, pending\n-- ARGV: task_id, worker_id\n-- Returns 1 when given back, 0 when the task was not this worker's to give back.\nlocal fields = redis.call('HMGET', KEYS[1], 'state', 'worker')\nif fields[1] ~= 'executing' or fields[2] ~= ARGV[2] then\n  return 0\nend\nredis.call('HSET', KEYS[1], 'state', 'pending')\nredis.call('HDEL', KEYS[1], 'executing-created', 'worker')\nredis.call('LREM', KEYS[2], 1, ARGV[1])\nredis.call('RPUSH', KEYS[3], ARGV[1])\nreturn 1\n",
      "sha": "d19af9c6364cc29779dcbae6855521c9784e4d33"
    },
    "cancel": {
      "file": "scripts/cancel.lua",
      "keys": [
        "task",
        "pending"
      ],
      "argv": [
        "task_id",
        "results_channel",
        "cmd_channel",
        "kill_command",
        "now",
        "reason",
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
      "returns": "'cancelled' (was not executing nor finished), 'killing' (kill-requested set, kill command sent), 'finished', or 'missing' (no task hash)",
      "source": "-- cancel: stop a task. One that is neither executing nor finished (pending, or a state no worker\n-- would run) is taken off its queue and finished failed at once; for an executing one the kill is\n-- marked in the hash (kill-requested) and the kill command goes to the workers.\n-- KEYS: task, pending\n-- ARGV: task_id, results_channel, cmd_channel, kill_command, now, reason, default_ttl\n-- Returns 'cancelled', 'killing', 'finished' or 'missing' (no task hash).\n-- Every check comes before the first write, so an error leaves nothing half done.\nif redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then\n  return 'missing'\nend\nlocal fields = redis.call('HMGET', KEYS[1], 'state', 'result-ttl')\nlocal state, own = fields[1], fields[2]\nif not state then\n  return 'missing'\nend\nif state == 'finished' then\n  return 'finished'\nend\nif state == 'executing' then\n  redis.call('HSET', KEYS[1], 'kill-requested', ARGV[5])\n  redis.call('PUBLISH', ARGV[3], ARGV[4])\n  return 'killing'\nend\nlocal ttl = tonumber(ARGV[7])\nif own and string.match(own, '^%d+$') and #own <= 10 then\n  ttl = tonumber(own)\nend\nredis.call('LREM', KEYS[2], 0, ARGV[1])\nredis.call('HSET', KEYS[1], 'state', 'finished', 'result', 'failed',\n  'error-reason', ARGV[6], 'finished-created', ARGV[5])\nif ttl > 0 then\n  redis.call('EXPIRE', KEYS[1], ttl)\nend\nredis.call('PUBLISH', ARGV[2], KEYS[1])\nreturn 'cancelled'\n",
      "sha": "16a7084e48a96196894023636acca7c5fd972fe5"
    }
  }
});
