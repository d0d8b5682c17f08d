'use strict';
// The one Node module that turns names into Redis keys, channel names and commands. The patterns
// come from schema/schema.json (lib/schema.js is generated from it).

const schema = require('./schema');
const { ConfigError } = require('./errors');

const TASK_ID = new RegExp(schema.task_id.regex, 'u');
const NAME = new RegExp(schema.names.regex, 'u');
const RESERVED_QUEUES = schema.names.reserved_queues;
/** At most this many characters of a bad name or id go into a message. */
const SHOWN_CHARS = 200;

/** A bad value for a message: JSON-quoted (control characters escaped), at most SHOWN_CHARS of it. */
function shown(value) {
  if (typeof value !== 'string') return String(value);
  const quoted = JSON.stringify(value.slice(0, SHOWN_CHARS));
  return value.length <= SHOWN_CHARS ? quoted : `${quoted}... (${value.length} characters)`;
}

function fill(pattern, values) {
  return pattern.replace(/\{(\w+)\}/g, (_, name) => values[name]);
}

const TASK_ID_PLACE = '{task_id}';
if (!schema.keys.task.pattern.endsWith(TASK_ID_PLACE)) throw new Error("the schema's task key does not end with the id");

/**
 * The id itself, or a RangeError saying what is wrong with it: the schema's rule, and well-formed
 * (a lone surrogate has no UTF-8 form; Python refuses such an id too).
 */
function checkTaskId(taskId) {
  if (typeof taskId !== 'string' || !TASK_ID.test(taskId) || !taskId.isWellFormed()) {
    throw new RangeError(
      `task id must be 1 to 256 characters without whitespace or control characters, valid Unicode: ${shown(taskId)}`,
    );
  }
  return taskId;
}

function checkName(kind, name) {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ConfigError(`${kind} must be a non-empty string without whitespace, ':', braces or * ? [ ] \\: ${shown(name)}`);
  }
  return name;
}

/** The queue name itself, or a ConfigError: the name rule, and not a reserved name. */
function checkQueue(queue) {
  checkName('queue', queue);
  if (RESERVED_QUEUES.includes(queue)) {
    throw new ConfigError(
      `queue may not be named ${shown(queue)}: its keys would collide with the ${queue} keys (reserved names: ${RESERVED_QUEUES.join(', ')})`,
    );
  }
  return queue;
}

/** Keys of one prefix; the queue-specific ones take the queue name. */
class Keys {
  constructor(prefix = schema.defaults.prefix) {
    this.prefix = checkName('prefix', prefix);
    this.results = fill(schema.channels.results.pattern, { prefix });
    this.cmd = fill(schema.channels.cmd.pattern, { prefix });
    this.killAll = schema.commands.kill_all.pattern;
    this.taskHead = fill(schema.keys.task.pattern, { prefix, task_id: '' });
  }

  /** The task's hash key: the head of this prefix's task keys and the id (no pattern work each time). */
  task(taskId) {
    return this.taskHead + taskId;
  }

  /** The id inside a task hash key of this prefix, else null. */
  taskId(taskKey) {
    const head = this.taskHead;
    return taskKey.startsWith(head) && taskKey.length > head.length ? taskKey.slice(head.length) : null;
  }

  pending(queue) {
    return fill(schema.keys.pending.pattern, { prefix: this.prefix, queue: checkQueue(queue) });
  }

  executing(queue) {
    return fill(schema.keys.executing.pattern, { prefix: this.prefix, queue: checkQueue(queue) });
  }

  /** The queue's scheduled set: ids of tasks waiting for their time, scored by when they are due (unix ms). */
  scheduled(queue) {
    return fill(schema.keys.scheduled.pattern, { prefix: this.prefix, queue: checkQueue(queue) });
  }

  /** The queue's failed index: ids of its failed tasks, scored by when they failed (unix ms). */
  failed(queue) {
    return fill(schema.keys.failed.pattern, { prefix: this.prefix, queue: checkQueue(queue) });
  }

  /** The lock of the queue's recovery round (held by one worker at a time). */
  recovery(queue) {
    return fill(schema.keys.recovery.pattern, { prefix: this.prefix, queue: checkQueue(queue) });
  }

  /** The command that tells the queue's workers a task was scheduled. */
  scheduledCommand(queue) {
    return fill(schema.commands.scheduled.pattern, { queue: checkQueue(queue) });
  }

  worker(workerId) {
    return fill(schema.keys.worker.pattern, { prefix: this.prefix, worker_id: workerId });
  }

  kill(taskId) {
    return fill(schema.commands.kill.pattern, { task_key: this.task(taskId) });
  }
}

module.exports = { Keys, checkQueue, checkTaskId };
