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
// once it has been called, a failed task's error argument is never empty, and a task hash that does
// not decode reaches the callback as a DecodeError (never an unhandled rejection).

const { EventEmitter } = require('node:events');
const schema = require('./schema');
const { connectClient } = require('./client');
const { resolve } = require('./config');
const { TaskNotFoundError } = require('./errors');
const { FIELD, RESULT, camel, checkedFields, newTaskId, submitFields } = require('./protocol');

/** The fields the legacy client decoded: JSON and timestamps. */
const DECODED = schema.task_fields.filter((f) => f.type === 'timestamp' || f.type.startsWith('json')).map((f) => f.name);

/**
 * A TaskInfo as the legacy client handed a task out: raw field names, JSON and timestamps decoded.
 * Throws the DecodeError of the first field that does not decode (or was not UTF-8).
 */
function legacyTask(info) {
  const task = { ...checkedFields(info) };
  for (const name of DECODED) {
    if (task[name] !== undefined) task[name] = info[camel(name)];
  }
  return task;
}

/**
 * Run the user's callback or listener outside the client's promises: what it throws becomes an
 * uncaught exception of its own, as it did in 1.1.2, instead of an unhandled rejection or a lost call.
 */
function userCode(fn, ...args) {
  try {
    fn(...args);
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}

class LegacyClient extends EventEmitter {
  #client;
  #settings = null; // resolve()'s, known at once: task() returns the id as stored before the client connects
  #callbacks = new Map(); // task id -> callback, until it is called
  #closed = false;

  constructor(redisUrl, prefix, queue) {
    super();
    try {
      this.#settings = resolve({ url: redisUrl || undefined, prefix: prefix || undefined, queue: queue || undefined });
      this.#client = connectClient(this.#settings);
    } catch (error) {
      this.#client = Promise.reject(error); // reported below, as a failed connection is
    }
    this.#client.then(
      (client) => client.on('error', (error) => this.#error(error)),
      (error) => this.#error(error),
    );
  }

  #error(error) {
    if (this.listenerCount('error')) userCode(() => this.emit('error', error));
    else console.warn(`doshit: ${error.message}`);
  }

  /** Queue `name(**args)`; returns the new task id at once. `cb(err, value, task)` runs when it is done. */
  task(name, args, cb) {
    return this.taskwithid(newTaskId(), name, args, cb);
  }

  /**
   * Like task(), with an id the caller chose (a task with that id must not exist yet). Returns the id
   * the task is stored under: on a cluster the queue's tag comes first ({default}:my-id).
   */
  taskwithid(taskId, name, args, cb) {
    submitFields(name, args ?? {}); // bad arguments throw here, before anything is sent
    if (cb !== undefined && typeof cb !== 'function') throw new TypeError('the callback must be a function');
    const id = this.#storedId(taskId);
    if (cb) this.#callbacks.set(id, cb);
    this.#run(id, name, args ?? {});
    return id;
  }

  /**
   * The id a task is stored under (Keys.taskIdFor); one the rules refuse goes as it is, and the
   * submit refuses it through the callback.
   */
  #storedId(taskId) {
    if (this.#settings === null) return taskId;
    try {
      return this.#settings.keys.taskIdFor(this.#settings.queue, taskId);
    } catch {
      return taskId;
    }
  }

  async #run(taskId, name, args) {
    let task;
    try {
      const client = await this.#client;
      task = legacyTask(await (await client.submit(name, args, { taskId })).wait());
    } catch (error) {
      this.#finish(taskId, [error, null, null]);
      if (!this.#closed) this.#error(error);
      return;
    }
    if (task[FIELD.result] === RESULT.SUCCESSFUL) {
      const value = task[FIELD.resultValue] ?? null;
      userCode(() => this.emit('success', value, task, taskId));
      this.#finish(taskId, [null, value, task]);
    } else {
      const error = task[FIELD.errorException] || task;
      userCode(() => this.emit('failure', error, task, taskId));
      this.#finish(taskId, [error, null, task]);
    }
  }

  #finish(taskId, args) {
    const cb = this.#callbacks.get(taskId);
    this.#callbacks.delete(taskId);
    if (cb) userCode(cb, ...args);
  }

  /** `cb(err, task)` with the task hash (legacy-decoded), or null if there is no such task. */
  gettask(taskId, cb) {
    if (typeof cb !== 'function') throw new TypeError('the callback must be a function');
    this.#read(taskId).then((args) => userCode(cb, ...args));
  }

  /** [error, task] for gettask's callback: every error is delivered, none rejects. */
  async #read(taskId) {
    try {
      const client = await this.#client;
      return [null, legacyTask(await client.getTask(taskId))];
    } catch (error) {
      return error instanceof TaskNotFoundError ? [null, null] : [error, null];
    }
  }

  /** Close the connections once the commands already sent are answered. */
  quit(cb) {
    this.#closed = true;
    const done = this.#client.then((client) => client.close()).then(
      () => cb && userCode(cb, null),
      (error) => cb && userCode(cb, error),
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
