'use strict';
// The rules of the protocol, with no I/O: what a submit writes and how a task hash reads.

const { randomUUID } = require('node:crypto');
const { inspect } = require('node:util');
const schema = require('./schema');
const codec = require('./codec');
const { DecodeError, TaskFailedError } = require('./errors');

const FIELD = Object.fromEntries(schema.task_fields.map((field) => [camel(field.name), field.name]));
const STATE = Object.fromEntries(Object.keys(schema.states).map((state) => [state.toUpperCase(), state]));
const RESULT = Object.fromEntries(Object.keys(schema.results).map((result) => [result.toUpperCase(), result]));
const SUBMIT_OPTIONS = ['queue', 'taskId', 'username', 'virtualMemoryLimit', 'resultTtl'];

/** A hash field name as a JavaScript property name: result-value -> resultValue. */
function camel(name) {
  return name.replace(/-(.)/g, (_, letter) => letter.toUpperCase());
}

function checkOptions(options, allowed) {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const unknown = Object.keys(options).filter((name) => !allowed.includes(name));
  if (unknown.length) {
    throw new TypeError(`unknown option(s) ${unknown.join(', ')}; options are ${allowed.join(', ')}`);
  }
  return options;
}

function count(name, value, { allowZero = false } = {}) {
  if (value === undefined || value === null) return undefined;
  const ok = (typeof value === 'number' && Number.isSafeInteger(value)) || typeof value === 'bigint';
  if (!ok || value < (allowZero ? 0 : 1)) {
    throw new RangeError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${String(value)}`);
  }
  return String(value);
}

/** The exact hash a submit writes, as [field, value] pairs in schema order. Throws before any I/O. */
function submitFields(fn, args, { queue, username, virtualMemoryLimit, resultTtl, now } = {}) {
  if (typeof fn !== 'string' || fn === '') {
    throw new TypeError(`function must be a non-empty string, got ${JSON.stringify(fn)}`);
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args) || args instanceof Date) {
    throw new TypeError('args must be an object of named arguments');
  }
  if (username !== undefined && username !== null && typeof username !== 'string') {
    throw new TypeError(`username must be a string, got ${typeof username}`);
  }
  const fields = [
    [FIELD.function, fn],
    [FIELD.state, STATE.PENDING],
    [FIELD.args, codec.encode(args, 'args')],
    [FIELD.pendingCreated, now ?? codec.nowTimestamp()],
    [FIELD.schemaVersion, String(schema.schema_version)],
    [FIELD.queue, queue],
    [FIELD.username, username ?? undefined],
    [FIELD.virtualMemoryLimit, count('virtualMemoryLimit', virtualMemoryLimit)],
    [FIELD.resultTtl, count('resultTtl', resultTtl, { allowZero: true })],
  ];
  return fields.filter(([, value]) => value !== undefined);
}

function newTaskId() {
  return randomUUID();
}

function decodeInteger(text) {
  if (!/^\d+$/.test(text)) throw new DecodeError(`not a non-negative integer: ${JSON.stringify(text)}`);
  const number = Number(text);
  return Number.isSafeInteger(number) ? number : BigInt(text);
}

function decodeObject(text) {
  const value = codec.decode(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) {
    throw new DecodeError('not a JSON object of named arguments');
  }
  return value;
}

const DECODERS = {
  string: (text) => text,
  enum: (text) => text,
  timestamp: codec.parseTimestamp,
  integer: decodeInteger,
  'json-object': decodeObject,
  json: codec.decode,
};

/**
 * A snapshot of a task hash. `fields` holds the raw strings; one property per schema field
 * (camelCase) decodes its field on first access, so one bad field does not hide the others:
 * reading it throws a DecodeError that names the field.
 */
class TaskInfo {
  #decoded = new Map();

  constructor(id, fields) {
    this.id = id;
    this.fields = Object.freeze({ ...fields });
  }

  /** True once the task is finished. */
  get finished() {
    return this.fields[FIELD.state] === STATE.FINISHED;
  }

  /** The return value of a successful task; throws TaskFailedError for a failed one. */
  outcome() {
    if (this.result === RESULT.SUCCESSFUL) return this.resultValue;
    if (this.result === RESULT.FAILED) throw new TaskFailedError(this);
    throw new DecodeError(`task ${this.id} is ${this.state} with result ${JSON.stringify(this.result)}`);
  }

  /** Every field the hash has, decoded, as a plain object; throws a DecodeError for a bad field. */
  toObject() {
    const object = { id: this.id };
    for (const prop of Object.keys(FIELD)) {
      if (this.fields[FIELD[prop]] !== undefined) object[prop] = this[prop];
    }
    return object;
  }

  /** What console.log shows: the decoded fields, and the raw text of any that do not decode. */
  [inspect.custom](depth, options, show) {
    const object = { id: this.id };
    for (const prop of Object.keys(FIELD)) {
      const text = this.fields[FIELD[prop]];
      if (text === undefined) continue;
      try {
        object[prop] = this[prop];
      } catch {
        object[prop] = `(not decodable) ${text}`;
      }
    }
    return `TaskInfo ${show(object, options)}`;
  }

  static {
    for (const field of schema.task_fields) {
      const decodeField = DECODERS[field.type];
      Object.defineProperty(TaskInfo.prototype, camel(field.name), {
        get() {
          const text = this.fields[field.name];
          if (text === undefined) return null;
          if (!this.#decoded.has(field.name)) {
            try {
              this.#decoded.set(field.name, decodeField(text));
            } catch (error) {
              throw new DecodeError(`task ${this.id}: field ${field.name}: ${error.message}`);
            }
          }
          return this.#decoded.get(field.name);
        },
      });
    }
  }
}

module.exports = {
  FIELD,
  STATE,
  RESULT,
  SUBMIT_OPTIONS,
  TaskInfo,
  camel,
  checkOptions,
  newTaskId,
  submitFields,
};
