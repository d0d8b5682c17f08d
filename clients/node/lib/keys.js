'use strict';
// The one Node module that turns names into Redis keys, channel names and commands. The patterns
// come from schema/schema.json (lib/schema.js is generated from it), and so does the Redis Cluster
// layout (`cluster` there): on a cluster every key one script touches must share a hash slot, so a
// queue's keys carry the queue as hash tag (doshit:{default}:pending), the prefix-wide ones the prefix
// ({doshit}:worker:<id>), and a task id starts with its queue's tag ({default}:<uuid4>), which puts
// its task key (doshit:task:{default}:<uuid4>) in its queue's slot. Channels and commands do not change.

const schema = require('./schema');
const { ConfigError } = require('./errors');

const TASK_ID = new RegExp(schema.task_id.regex, 'u');
const NAME = new RegExp(schema.names.regex, 'u');
const RESERVED_QUEUES = schema.names.reserved_queues;
/** The schema's key names, by name (KEY.pending), so that no name is typed again here. */
const KEY = Object.fromEntries(Object.keys(schema.keys).map((name) => [name, name]));
/** The keys (schema.keys names) that carry the queue, or the prefix, as hash tag on a cluster. */
const QUEUE_TAGGED = new Set(schema.cluster.queue_tagged);
const PREFIX_TAGGED = new Set(schema.cluster.prefix_tagged);
for (const kind of [...QUEUE_TAGGED, ...PREFIX_TAGGED]) {
  if (!Object.hasOwn(schema.keys, kind)) throw new Error(`the schema's cluster layout names an unknown key ${kind}`);
}
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

/** A name as a Redis Cluster hash tag: only it decides the slot of a key that holds it. */
function hashTag(name) {
  return `${schema.cluster.tag_open}${name}${schema.cluster.tag_close}`;
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

/**
 * Keys of one prefix; the queue-specific ones take the queue name. With `cluster` they follow the
 * Redis Cluster layout (see the top of this file); without it they are the classic ones, unchanged.
 */
class Keys {
  constructor(prefix = schema.defaults.prefix, { cluster = false } = {}) {
    this.prefix = checkName('prefix', prefix);
    this.cluster = Boolean(cluster);
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

  /** Key `kind` of the schema; on a cluster its prefix or queue is a hash tag where the layout says so. */
  #key(kind, values) {
    const prefix = this.cluster && PREFIX_TAGGED.has(kind) ? hashTag(this.prefix) : this.prefix;
    const queue = this.cluster && QUEUE_TAGGED.has(kind) ? hashTag(values.queue) : values.queue;
    return fill(schema.keys[kind].pattern, { ...values, prefix, queue });
  }

  /**
   * What starts the id of every task of the queue: its hash tag and ':' on a cluster ({default}:),
   * else nothing.
   */
  idTag(queue) {
    return this.cluster ? `${hashTag(checkQueue(queue))}:` : '';
  }

  /**
   * The id a task of `queue` given `taskId` is stored under: `taskId` itself, on a cluster with the
   * queue's tag put in front unless it starts with it (once, never twice); a RangeError when it breaks
   * the id rule.
   */
  taskIdFor(queue, taskId) {
    const head = this.idTag(queue);
    const tagged = !head || (typeof taskId === 'string' && taskId.startsWith(head));
    return checkTaskId(tagged ? taskId : head + checkTaskId(taskId));
  }

  /**
   * The queue whose hash tag starts a task id ({emails}:... names emails), or null when it starts
   * with none. On a cluster it is the queue the task was submitted to: the only one whose keys share
   * the task key's slot.
   */
  queueOfId(taskId) {
    const { tag_open: open, tag_close: close } = schema.cluster;
    const end = taskId.indexOf(close); // Redis reads the tag up to the first close
    if (!taskId.startsWith(open) || end < 0 || !taskId.startsWith(':', end + close.length)) return null;
    const queue = taskId.slice(open.length, end);
    return NAME.test(queue) && !RESERVED_QUEUES.includes(queue) ? queue : null;
  }

  pending(queue) {
    return this.#key(KEY.pending, { queue: checkQueue(queue) });
  }

  executing(queue) {
    return this.#key(KEY.executing, { queue: checkQueue(queue) });
  }

  /** The queue's scheduled set: ids of tasks waiting for their time, scored by when they are due (unix ms). */
  scheduled(queue) {
    return this.#key(KEY.scheduled, { queue: checkQueue(queue) });
  }

  /** The queue's failed index: ids of its failed tasks, scored by when they failed (unix ms). */
  failed(queue) {
    return this.#key(KEY.failed, { queue: checkQueue(queue) });
  }

  /** The lock of the queue's recovery round (held by one worker at a time). */
  recovery(queue) {
    return this.#key(KEY.recovery, { queue: checkQueue(queue) });
  }

  /** The command that tells the queue's workers a task was scheduled. */
  scheduledCommand(queue) {
    return fill(schema.commands.scheduled.pattern, { queue: checkQueue(queue) });
  }

  worker(workerId) {
    return this.#key(KEY.worker, { worker_id: workerId });
  }

  kill(taskId) {
    return fill(schema.commands.kill.pattern, { task_key: this.task(taskId) });
  }
}

module.exports = { Keys, checkQueue, checkTaskId };
