'use strict';
// The Node.js client: submit tasks (now or later), await their results, read, cancel and requeue them.

const { EventEmitter } = require('node:events');
const { inspect } = require('node:util');
const { RESP_TYPES } = require('@redis/client');
const schema = require('./schema');
const codec = require('./codec');
const { configProblem, resolve } = require('./config');
const { createConnection, runDurable } = require('./connection');
const { checkQueue, checkTaskId } = require('./keys');
const { DecodeError, DoshitError, TaskExistsError, TaskNotFoundError, TaskTimeoutError } = require('./errors');
const {
  FIELD,
  STATE,
  SUBMIT_OPTIONS,
  TaskInfo,
  checkArgsSize,
  checkOptions,
  dueOf,
  newTaskId,
  submitFields,
} = require('./protocol');
const { Results } = require('./results');
const { runScript, scriptCall } = require('./scripts');

/** What cancel() and requeue() answer for a task there is none of (as their scripts do). */
const MISSING = 'missing';
for (const script of ['cancel', 'requeue']) {
  if (!schema.scripts[script].reply.words.includes(MISSING)) {
    throw new Error(`the schema's ${script} script never says ${MISSING}`);
  }
}
/** call() takes the submit options, but its `timeout` is the wait's (milliseconds), not the task's time limit. */
const CALL_OPTIONS = SUBMIT_OPTIONS;
/** submitMany() takes the submit options but taskId: the ids are made for it. */
const SUBMIT_MANY_OPTIONS = SUBMIT_OPTIONS.filter((name) => name !== 'taskId');
const WAIT_OPTIONS = ['timeout'];

/**
 * Command options that read a reply as bytes, maps as flat arrays: a task hash is read this way, so
 * that a value which is not UTF-8 is known (node-redis would replace its bad bytes silently) and a
 * field named __proto__ stays a field. Only task hash reads take this path; it costs a little.
 */
const AS_BYTES = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.MAP]: Array } };

function checkTimeout(timeout) {
  if (timeout === undefined || timeout === null) return null;
  if (typeof timeout !== 'number' || !(timeout >= 0)) {
    throw new RangeError(`timeout must be a number of milliseconds >= 0, got ${String(timeout)}`);
  }
  return timeout;
}

/** Open one node-redis connection; see connectionOptions for what happens when it is lost. */
async function connect(settings, report, events = {}) {
  const state = { connected: false };
  const redis = createConnection(settings, state);
  let reported = false;
  redis.on('error', (error) => {
    if (state.connected && !reported) {
      reported = true;
      report(error);
    }
  });
  redis.on('reconnecting', () => events.down?.());
  redis.on('ready', () => {
    state.connected = true;
    reported = false;
    events.ready?.();
  });
  try {
    await redis.connect();
  } catch (error) {
    redis.destroy();
    const problem = configProblem(error, settings.describe);
    if (problem) throw problem;
    throw new DoshitError(`cannot connect to Redis at ${settings.describe}: ${error.message}`, { cause: error });
  }
  return redis;
}

/** null for the DecodeError of a key that is not a hash; any other error goes on. */
function notAHash(error) {
  if (error instanceof DecodeError) return null;
  throw error;
}

// A dropped Task handle ends the keep of its key (its result will never be awaited).
const dropped = new FinalizationRegistry((release) => release());

/**
 * Submits tasks and reads their results over one command connection and, from the first submit or
 * wait on, one subscriber connection shared by every task. Emits 'error' when a connection is lost
 * (it reconnects by itself); without a listener the first error of an outage is printed as a warning.
 */
class Client extends EventEmitter {
  #redis;
  #results;
  #settings;

  constructor(redis, settings) {
    super();
    this.#redis = redis;
    this.#settings = settings;
    this.keys = settings.keys;
    this.prefix = settings.keys.prefix;
    this.queue = settings.queue;
    this.#results = new Results(
      (events) => connect(settings, (error) => this._report(error), events),
      settings.keys.results,
    );
  }

  /** A lost connection: to the 'error' listeners, else one warning per outage. */
  _report(error) {
    if (this.listenerCount('error')) this.emit('error', error);
    else console.warn(`doshit: lost the Redis connection to ${this.#settings.describe} (${error.message}); reconnecting`);
  }

  /** The node-redis connection the client sends its commands on. */
  get redis() {
    return this.#redis;
  }

  /** A command on a task's hash; a DecodeError when the key holds something else than a hash. */
  async #onTask(taskId, command, options) {
    try {
      return await this.#redis.sendCommand(command, options);
    } catch (error) {
      if (!String(error.message).startsWith('WRONGTYPE')) throw error;
      throw new DecodeError(`task ${taskId}: its key ${this.keys.task(taskId)} is not a hash`, { cause: error });
    }
  }

  /** The task hash as a TaskInfo, or null when there is none. */
  async #read(taskId) {
    const reply = await this.#onTask(taskId, ['HGETALL', this.keys.task(taskId)], AS_BYTES);
    return reply.length ? new TaskInfo(taskId, reply) : null;
  }

  /**
   * Queue a call of `fn` with named arguments; resolves once it is queued, with its Task.
   * Options: queue, taskId (refused with TaskExistsError if taken; on a cluster it gets the queue's
   * tag put in front unless it starts with it, and the Task carries the id as stored), username,
   * virtualMemoryLimit (bytes), resultTtl (seconds to keep the finished hash; 0 keeps it),
   * retries (runs allowed after a failure), timeout (whole seconds it may run), and delay (seconds
   * from now) or at (a Date) to run it later: it waits in the scheduled state until then; meta (an
   * object of JSON values the worker's event hooks get, e.g. a trace context).
   * Arguments whose JSON is over the client's maxArgsBytes are refused with a RangeError.
   */
  async submit(fn, args = {}, options = {}) {
    const { queue = this.queue, taskId, username, resultTtl, retries, timeout, delay, at, meta } = checkOptions(
      options,
      SUBMIT_OPTIONS,
    );
    const virtualMemoryLimit = options.virtualMemoryLimit ?? this.#settings.virtualMemoryLimit;
    const k = this.keys;
    const id = k.taskIdFor(queue, taskId === undefined ? newTaskId() : taskId);
    const [pending, scheduled, scheduledCommand] = [k.pending(queue), k.scheduled(queue), k.scheduledCommand(queue)];
    const due = dueOf(delay, at);
    const { maxArgsBytes } = this.#settings;
    const fields = submitFields(fn, args, {
      queue,
      username,
      virtualMemoryLimit,
      resultTtl,
      retries,
      timeout,
      due,
      meta,
      maxArgsBytes,
    });
    const key = k.task(id);
    const call = scriptCall('submit', {
      keys: { task: key, pending, scheduled },
      argv: {
        task_id: id,
        due_ms: due === null ? '' : String(due.getTime()),
        cmd_channel: k.cmd,
        scheduled_command: scheduledCommand,
        field_values: Object.fromEntries(fields),
      },
    });
    await this.#results.ensure();
    const release = this.#results.keep(key);
    let reply;
    try {
      reply = await runDurable(this.#redis, call, this.#settings.durability);
    } catch (error) {
      release();
      throw error;
    }
    if (reply.status === 'exists') {
      release();
      throw new TaskExistsError(id);
    }
    const task = new Task(this, id, queue);
    dropped.register(task, release);
    return task;
  }

  /**
   * Queue many calls of `fn` at once, one object of named arguments per task, in one atomic script
   * call: every task is written, or none. Resolves with their Tasks, in the order given (workers take
   * them in that order). Options: as submit()'s, for every task, except taskId. At most
   * schema.limits.submit_many_max (10,000) tasks per call; Redis serves nobody else while it writes
   * them (about 6 microseconds per task).
   */
  async submitMany(fn, argsList, options = {}) {
    const { queue = this.queue, username, resultTtl, retries, timeout, delay, at, meta } = checkOptions(
      options,
      SUBMIT_MANY_OPTIONS,
    );
    if (!Array.isArray(argsList)) throw new TypeError('submitMany takes an array of argument objects');
    const most = schema.limits.submit_many_max;
    if (argsList.length > most) {
      throw new RangeError(`submitMany writes at most ${most} tasks in one call, got ${argsList.length}`);
    }
    const virtualMemoryLimit = options.virtualMemoryLimit ?? this.#settings.virtualMemoryLimit;
    const due = dueOf(delay, at);
    const { maxArgsBytes } = this.#settings;
    const fieldOptions = { queue, username, virtualMemoryLimit, resultTtl, retries, timeout, due, meta, maxArgsBytes };
    const common = submitFields(fn, {}, fieldOptions).filter(([field]) => field !== FIELD.args);
    const dueMs = due === null ? '' : String(due.getTime());
    const k = this.keys;
    const idTag = k.idTag(queue); // on a cluster every id starts with its queue's tag
    const ids = [];
    const taskKeys = [];
    const tasks = [];
    argsList.forEach((args, index) => {
      let text;
      try {
        if (args === null || typeof args !== 'object' || Array.isArray(args) || args instanceof Date) {
          throw new TypeError('args must be an object of named arguments');
        }
        text = codec.encode(args, 'args');
        checkArgsSize(text, maxArgsBytes);
      } catch (error) {
        error.message = `task ${index}: ${error.message}`;
        throw error;
      }
      const id = idTag + newTaskId();
      ids.push(id);
      taskKeys.push(k.task(id));
      tasks.push(id, dueMs, '1', FIELD.args, text);
    });
    if (!ids.length) return [];
    const call = scriptCall('submit_many', {
      keys: { pending: k.pending(queue), scheduled: k.scheduled(queue), task: taskKeys },
      argv: {
        cmd_channel: k.cmd,
        scheduled_command: k.scheduledCommand(queue),
        count: ids.length,
        common_fields: JSON.stringify(Object.fromEntries(common)),
        tasks,
      },
    });
    // 'exists' can only be a resend of this very call after a lost reply (the ids are random): written.
    await runDurable(this.#redis, call, this.#settings.durability);
    return ids.map((id) => new Task(this, id, queue));
  }

  /** Submit and await the result in one: resolves with the return value, rejects like Task.result. */
  async call(fn, args = {}, options = {}) {
    const { timeout, ...submitOptions } = checkOptions(options, CALL_OPTIONS);
    checkTimeout(timeout);
    const task = await this.submit(fn, args, submitOptions);
    return task.result({ timeout });
  }

  /** A handle to a task by id (submitted by anyone, in any language); no I/O. */
  task(taskId) {
    return new Task(this, checkTaskId(taskId), null);
  }

  /** The whole task hash, decoded (a TaskInfo); rejects with TaskNotFoundError if there is none. */
  async getTask(taskId) {
    checkTaskId(taskId);
    const info = await this.#read(taskId);
    if (info === null) throw new TaskNotFoundError(taskId);
    return info;
  }

  /** The task's state field; rejects with TaskNotFoundError if there is no task. */
  async _state(taskId) {
    const state = await this.#onTask(taskId, ['HGET', this.keys.task(taskId), FIELD.state]);
    if (state === null) throw new TaskNotFoundError(taskId);
    return String(state);
  }

  /**
   * Cancel a pending or scheduled task (or the executing task of a worker found dead), or send the
   * kill command for one a live worker runs. Resolves with what happened: 'cancelled', 'killing',
   * 'finished' (too late) or 'missing' (no such task).
   */
  async cancel(taskId, queue = null) {
    checkTaskId(taskId);
    if (queue !== null && queue !== undefined) checkQueue(queue);
    const slotQueue = this.#slotQueue(taskId);
    if (slotQueue === null) return MISSING;
    const k = this.keys;
    const key = k.task(taskId);
    // A key that is not a hash has no queue nor worker to read; the script then says 'missing'.
    const [named, owner] = (await this.#onTask(taskId, ['HMGET', key, FIELD.queue, FIELD.worker]).catch(notAHash)) ?? [];
    const taskQueue = slotQueue ?? queue ?? this.#usableQueue(named);
    // A producer may read worker keys only: whether the owner lives is looked at here, not in the script.
    const gone = Boolean(owner) && Number(await this.#redis.sendCommand(['EXISTS', k.worker(owner)])) === 0;
    const call = scriptCall('cancel', {
      keys: { task: key, pending: k.pending(taskQueue), scheduled: k.scheduled(taskQueue), failed: k.failed(taskQueue) },
      argv: {
        task_id: taskId,
        owner_id: owner ?? '',
        owner_gone: gone ? 1 : 0,
        results_channel: k.results,
        cmd_channel: k.cmd,
        kill_command: k.kill(taskId),
        now: codec.nowTimestamp(),
        now_ms: Date.now(),
        reason: schema.error_reasons.cancelled,
        orphan_reason: schema.error_reasons.cancelled_orphan.replaceAll('{worker}', owner ?? ''),
        default_ttl: schema.result_ttl_seconds,
      },
    });
    return (await runScript(this.#redis, call)).status;
  }

  /**
   * Run a failed task again: its failure joins the history in `errors`, its result fields and
   * attempt count go, it no longer expires, and it is pushed on its queue's pending list. Resolves
   * with 'requeued', 'not_failed' (it is not a finished, failed task: nothing changed) or 'missing'.
   */
  async requeue(taskId) {
    checkTaskId(taskId);
    const slotQueue = this.#slotQueue(taskId);
    if (slotQueue === null) return MISSING;
    const k = this.keys;
    const key = k.task(taskId);
    const queue =
      slotQueue ?? this.#usableQueue(await this.#onTask(taskId, ['HGET', key, FIELD.queue]).catch(notAHash));
    const call = scriptCall('requeue', {
      keys: { task: key, pending: k.pending(queue), failed: k.failed(queue) },
      argv: { task_id: taskId },
    });
    return (await runScript(this.#redis, call)).status;
  }

  /**
   * On a cluster, the queue whose keys a script on this task gets: the one the id's tag names, the
   * only one whose keys share the task key's slot; null when the id starts with no queue's tag (no
   * task of the cluster layout has such an id: there is none to cancel or requeue). Elsewhere
   * undefined: the queue comes from the caller or the task hash.
   */
  #slotQueue(taskId) {
    return this.keys.cluster ? this.keys.queueOfId(taskId) : undefined;
  }

  /**
   * The queue a task hash names, when it is a name a queue may have; else this client's queue (the
   * field is anyone's to write, and a task is cancelled whichever list its id is on).
   */
  #usableQueue(named) {
    try {
      return named ? checkQueue(String(named)) : this.queue;
    } catch {
      return this.queue;
    }
  }

  /** Ask every worker of this prefix to kill what it runs; resolves with how many workers heard it. */
  async killAll() {
    return Number(await this.#redis.sendCommand(['PUBLISH', this.keys.cmd, this.keys.killAll]));
  }

  /** Wait until the task is finished; resolves with its TaskInfo (failed or not). */
  async _wait(taskId, timeout) {
    const key = this.keys.task(taskId);
    await this.#results.ensure();
    const watch = this.#results.watch(key);
    let state = null; // as last read
    let delivered = false;
    let timer;
    const loop = (async () => {
      let mustRead = watch.mustRead;
      for (;;) {
        if (mustRead) {
          const info = await this.#read(taskId);
          if (info === null) throw new TaskNotFoundError(taskId);
          state = info.fields[FIELD.state] ?? null;
          if (state === STATE.FINISHED) {
            delivered = true;
            return info;
          }
        }
        if (!(await watch.next())) {
          throw new DoshitError(`the doshit client was closed while waiting for task ${taskId}`);
        }
        mustRead = true;
      }
    })();
    try {
      if (timeout === null) return await loop;
      const late = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new TaskTimeoutError(taskId, timeout, state)), timeout);
      });
      loop.catch(() => {}); // after a timeout nobody awaits the loop any more
      return await Promise.race([loop, late]);
    } finally {
      clearTimeout(timer);
      watch.end(delivered);
    }
  }

  /** How many task keys the client still watches or keeps (0 once every result was delivered). */
  get watching() {
    return this.#results.size;
  }

  /** What console.log shows: where it connects (the password masked), the prefix and the queue. */
  [inspect.custom]() {
    return `Client <${this.#settings.describe}> prefix=${this.prefix} queue=${this.queue}`;
  }

  /** Close both connections; waits still running reject. */
  async close() {
    await this.#results.close();
    await this.#redis.close().catch(() => this.#redis.destroy());
  }
}

/** A submitted task. Every method reads Redis; nothing is cached. */
class Task {
  constructor(client, id, queue) {
    this.client = client;
    this.id = id;
    this.key = client.keys.task(id);
    this.queue = queue;
  }

  /** Resolves with the finished task's TaskInfo; rejects with TaskTimeoutError after `timeout` ms. */
  wait(options = {}) {
    const { timeout } = checkOptions(options, WAIT_OPTIONS);
    return this.client._wait(this.id, checkTimeout(timeout));
  }

  /** The return value; rejects with TaskFailedError (errorReason, errorException, task) or TaskTimeoutError. */
  async result(options = {}) {
    return (await this.wait(options)).outcome();
  }

  /** True once the task is finished. */
  async poll() {
    return (await this.client._state(this.id)) === STATE.FINISHED;
  }

  /** The whole task hash now, decoded. */
  info() {
    return this.client.getTask(this.id);
  }

  /** Cancel it if pending or scheduled, kill it if executing; see Client.cancel. */
  cancel() {
    return this.client.cancel(this.id, this.queue);
  }

  /** Run it again if it failed; see Client.requeue. */
  requeue() {
    return this.client.requeue(this.id);
  }
}

/**
 * Connect and resolve with a Client. Options: url (redis://, rediss://, unix://, redis+sentinel:// or
 * redis+cluster://; default DOSHIT_REDIS_URL or redis://127.0.0.1:6379/0), prefix (default
 * 'doshit'), queue (default 'default'), virtualMemoryLimit (default bytes for submitted tasks),
 * maxArgsBytes (the largest args JSON a submit writes; default schema.limits.max_args_bytes), redis
 * (more node-redis options).
 */
async function createClient(options = {}) {
  checkOptions(options, ['url', 'prefix', 'queue', 'virtualMemoryLimit', 'maxArgsBytes', 'redis']);
  return connectClient(resolve(options));
}

/** Connect with settings from resolve() and resolve with a Client (the legacy API resolves them itself). */
async function connectClient(settings) {
  const made = {};
  const redis = await connect(settings, (error) => made.client._report(error));
  made.client = new Client(redis, settings);
  return made.client;
}

module.exports = { Client, Task, connectClient, createClient };
