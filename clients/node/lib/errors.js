'use strict';
// The errors doshit raises; each has a stable `name` and, where it helps, the task it is about.

class DoshitError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A value cannot be written as doshit JSON (NaN, a Map, a function, an unsafe integer Number, ...). */
class EncodeError extends DoshitError {}

/** A field in Redis does not hold what the schema says it should. */
class DecodeError extends DoshitError {}

/** The connection, prefix or queue configuration is unusable. */
class ConfigError extends DoshitError {}

/** A submit asked for a task id whose hash already exists; nothing was written. */
class TaskExistsError extends DoshitError {
  constructor(taskId) {
    super(`task ${taskId} already exists; nothing was submitted`);
    this.taskId = taskId;
  }
}

/**
 * A submit asked for replicas (the URL's durable_replicas) and fewer had the task when their time
 * (durable_timeout_ms) was up. The task is written to the master and will run, unless a failover
 * loses it.
 */
class TaskNotDurableError extends DoshitError {
  constructor(taskId, acknowledged, durability) {
    super(
      `${taskId ? `task ${taskId} was` : 'the tasks were'} written to the master, but ${acknowledged} of the ` +
        `${durability.replicas} replica(s) asked for had it after ${durability.timeoutMs} ms: a failover now may lose it`,
    );
    this.taskId = taskId;
    /** How many replicas had it. */
    this.acknowledged = acknowledged;
  }
}

/** No task hash exists for that id (never submitted, or its result expired). */
class TaskNotFoundError extends DoshitError {
  constructor(taskId) {
    super(`no task ${taskId} (never submitted, or its result expired)`);
    this.taskId = taskId;
  }
}

/** The task did not finish within the timeout. It may still finish later. */
class TaskTimeoutError extends DoshitError {
  constructor(taskId, timeout, state) {
    super(`task ${taskId} did not finish within ${timeout} ms${state ? ` (last seen ${state})` : ''}`);
    this.taskId = taskId;
    this.timeout = timeout;
    this.state = state;
  }
}

/** The task finished with result=failed. The message is the task's error-reason. */
class TaskFailedError extends DoshitError {
  constructor(task) {
    const reason = task.errorReason || 'failed without an error-reason';
    super(reason);
    this.taskId = task.id;
    this.errorReason = reason;
    /** The task's error-exception field: usually the remote traceback. */
    this.errorException = task.errorException || '';
    /** The finished task, decoded (a TaskInfo). */
    this.task = task;
  }
}

module.exports = {
  DoshitError,
  EncodeError,
  DecodeError,
  ConfigError,
  TaskExistsError,
  TaskNotDurableError,
  TaskNotFoundError,
  TaskTimeoutError,
  TaskFailedError,
};
