'use strict';
// The one Node module that turns names into Redis keys, channel names and commands. The patterns
// come from schema/schema.json (lib/schema.js is generated from it).

const schema = require('./schema');
const { ConfigError } = require('./errors');

const TASK_ID = new RegExp(schema.task_id.regex, 'u');
const NAME = new RegExp(schema.names.regex, 'u');

function fill(pattern, values) {
  return pattern.replace(/\{(\w+)\}/g, (_, name) => values[name]);
}

/** The id itself, or a RangeError saying what is wrong with it. */
function checkTaskId(taskId) {
  if (typeof taskId !== 'string' || !TASK_ID.test(taskId)) {
    throw new RangeError(
      `task id must be 1 to 256 characters without whitespace or control characters: ${JSON.stringify(taskId)}`,
    );
  }
  return taskId;
}

function checkName(kind, name) {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ConfigError(`${kind} must be a non-empty string without whitespace, ':' or braces: ${JSON.stringify(name)}`);
  }
  return name;
}

/** Keys of one prefix; the queue-specific ones take the queue name. */
class Keys {
  constructor(prefix = schema.defaults.prefix) {
    this.prefix = checkName('prefix', prefix);
    this.results = fill(schema.channels.results.pattern, { prefix });
    this.cmd = fill(schema.channels.cmd.pattern, { prefix });
    this.killAll = schema.commands.kill_all.pattern;
    this.taskHead = this.task('');
  }

  task(taskId) {
    return fill(schema.keys.task.pattern, { prefix: this.prefix, task_id: taskId });
  }

  /** The id inside a task hash key of this prefix, else null. */
  taskId(taskKey) {
    const head = this.taskHead;
    return taskKey.startsWith(head) && taskKey.length > head.length ? taskKey.slice(head.length) : null;
  }

  pending(queue) {
    return fill(schema.keys.pending.pattern, { prefix: this.prefix, queue: checkName('queue', queue) });
  }

  executing(queue) {
    return fill(schema.keys.executing.pattern, { prefix: this.prefix, queue: checkName('queue', queue) });
  }

  worker(workerId) {
    return fill(schema.keys.worker.pattern, { prefix: this.prefix, worker_id: workerId });
  }

  kill(taskId) {
    return fill(schema.commands.kill.pattern, { task_key: this.task(taskId) });
  }
}

module.exports = { Keys, checkTaskId };
