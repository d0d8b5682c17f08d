'use strict';
// The API of the legacy doshit 1.1.2 package, on top of the new client:
//
//   const client = require('doshit')(redisUrl, prefix, queue);
//   const id = client.task('echo', { text: 'hi' }, (err, value, task) => { ... });
//
// Kept as it was: the factory returns at once (the connection opens in the background), callbacks
// get (null, resultValue, task) on success and (error-exception or the task, null, task) on failure,
// `task` is the HGETALL hash with args and result-value parsed and timestamps as Date, and the
// client emits 'success', 'failure' and 'error'. Fixed: submits are atomic, a callback is dropped
// once it has been called, and a failed task's error argument is never empty.

const { EventEmitter } = require('node:events');
const schema = require('./schema');
const codec = require('./codec');
const { createClient } = require('./client');
const { TaskNotFoundError } = require('./errors');
const { FIELD, RESULT, newTaskId, submitFields } = require('./protocol');

const TIMESTAMP_FIELDS = schema.task_fields.filter((f) => f.type === 'timestamp').map((f) => f.name);
const JSON_FIELDS = schema.task_fields.filter((f) => f.type.startsWith('json')).map((f) => f.name);

/** A task hash as the legacy client handed it out: raw field names, JSON and timestamps decoded. */
function legacyTask(fields) {
  const task = { ...fields };
  for (const name of JSON_FIELDS) {
    if (task[name] !== undefined) task[name] = codec.decode(task[name]);
  }
  for (const name of TIMESTAMP_FIELDS) {
    if (task[name] !== undefined) task[name] = codec.parseTimestamp(task[name]);
  }
  return task;
}

class LegacyClient extends EventEmitter {
  #client;
  #callbacks = new Map(); // task id -> callback, until it is called
  #closed = false;

  constructor(redisUrl, prefix, queue) {
    super();
    this.#client = createClient({ url: redisUrl || undefined, prefix: prefix || undefined, queue: queue || undefined });
    this.#client.then(
      (client) => client.on('error', (error) => this.#error(error)),
      (error) => this.#error(error),
    );
  }

  #error(error) {
    if (this.listenerCount('error')) this.emit('error', error);
    else console.warn(`doshit: ${error.message}`);
  }

  /** Queue `name(**args)`; returns the new task id at once. `cb(err, value, task)` runs when it is done. */
  task(name, args, cb) {
    return this.taskwithid(newTaskId(), name, args, cb);
  }

  /** Like task(), with an id the caller chose (a task with that id must not exist yet). */
  taskwithid(taskId, name, args, cb) {
    submitFields(name, args ?? {}); // bad arguments throw here, before anything is sent
    if (cb !== undefined && typeof cb !== 'function') throw new TypeError('the callback must be a function');
    if (cb) this.#callbacks.set(taskId, cb);
    this.#run(taskId, name, args ?? {});
    return taskId;
  }

  async #run(taskId, name, args) {
    let fields;
    try {
      const client = await this.#client;
      const task = await client.submit(name, args, { taskId });
      fields = (await task.wait()).fields;
    } catch (error) {
      this.#finish(taskId, [error, null, null]);
      if (!this.#closed) this.#error(error);
      return;
    }
    let task;
    try {
      task = legacyTask(fields);
    } catch (error) {
      this.#finish(taskId, [error, null, null]);
      this.#error(error);
      return;
    }
    if (fields[FIELD.result] === RESULT.SUCCESSFUL) {
      const value = task[FIELD.resultValue] ?? null;
      this.emit('success', value, task, taskId);
      this.#finish(taskId, [null, value, task]);
    } else {
      const error = task[FIELD.errorException] || task;
      this.emit('failure', error, task, taskId);
      this.#finish(taskId, [error, null, task]);
    }
  }

  #finish(taskId, args) {
    const cb = this.#callbacks.get(taskId);
    this.#callbacks.delete(taskId);
    if (cb) cb(...args);
  }

  /** `cb(err, task)` with the task hash (legacy-decoded), or null if there is no such task. */
  gettask(taskId, cb) {
    this.#client
      .then((client) => client.getTask(taskId))
      .then(
        (info) => cb(null, legacyTask(info.fields)),
        (error) => (error instanceof TaskNotFoundError ? cb(null, null) : cb(error, null)),
      );
  }

  /** Close the connections once the commands already sent are answered. */
  quit(cb) {
    this.#closed = true;
    const done = this.#client.then((client) => client.close()).then(
      () => cb?.(null),
      (error) => cb?.(error),
    );
    return done;
  }

  /** Close the connections now; callbacks still waiting get an error. */
  end() {
    this.#closed = true;
    const closed = new Error('the doshit client was ended before the task finished');
    for (const taskId of [...this.#callbacks.keys()]) this.#finish(taskId, [closed, null, null]);
    this.#client.then((client) => client.close()).catch(() => {});
  }
}

/** The legacy entry point: `require('doshit')(redisUrl, prefix, queue)`. */
function legacy(redisUrl, prefix, queue) {
  return new LegacyClient(redisUrl, prefix, queue);
}

module.exports = { LegacyClient, legacy, legacyTask };
