'use strict';
// The rules of the protocol, with no I/O: what a submit writes and how a task hash reads.

const { isUtf8 } = require('node:buffer');
const { randomUUID } = require('node:crypto');
const { inspect } = require('node:util');
const schema = require('./schema');
const codec = require('./codec');
const { DecodeError, TaskFailedError } = require('./errors');

const FIELD = Object.fromEntries(schema.task_fields.map((field) => [camel(field.name), field.name]));
const STATE = Object.fromEntries(Object.keys(schema.states).map((state) => [state.toUpperCase(), state]));
const RESULT = Object.fromEntries(Object.keys(schema.results).map((result) => [result.toUpperCase(), result]));
const SUBMIT_OPTIONS = ['queue', 'taskId', 'username', 'virtualMemoryLimit', 'resultTtl', 'retries', 'timeout', 'delay', 'at', 'meta'];

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

/** The largest virtual memory limit a worker accepts (RLIMIT_AS is a signed 64-bit number). */
const MAX_MEMORY_LIMIT = 2n ** 63n - 1n;
/** The most retries a task may ask for (as doshit/_core/limits.py). */
const MAX_RETRIES = 1000;
/** The longest time limit a task may ask for, in seconds (as doshit/_core/limits.py). */
const MAX_TIMEOUT = 10 ** 9;
/** A delay must be shorter than this many seconds. */
const MAX_DELAY = 1e9;

/**
 * A whole number from `low` to `high` (a Number or a BigInt) as the decimal text a task hash holds,
 * undefined for an absent value; otherwise the error `make(problem)`. A Number beyond 2^53 is
 * refused: it may already have been rounded.
 */
function wholeNumber(value, low, high, make) {
  if (value === undefined || value === null) return undefined;
  let exact;
  if (typeof value === 'bigint') exact = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) exact = BigInt(value);
  if (exact === undefined || exact < BigInt(low) || exact > BigInt(high)) {
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
    const hint = Number.isInteger(value) && !Number.isSafeInteger(value) ? '; pass a BigInt beyond 2^53' : '';
    throw make(`must be a whole number from ${low} to ${high}, got ${shown}${hint}`);
  }
  return exact.toString();
}

const refused = (name) => (problem) => new RangeError(`${name} ${problem}`);

/**
 * When a task submitted with `delay` (seconds from now) or `at` (a Date) is due, as a Date (a
 * DoshitDate for a delay, to the microsecond); null to queue it at once. Throws before any I/O: a
 * TypeError for both at once or an `at` that is not a Date, a RangeError for a delay that is not a
 * number from 0 to below 1e9 or an `at` that is not a valid Date of the years 0 to 9999.
 */
function dueOf(delay, at, now = performance.timeOrigin + performance.now()) {
  const hasDelay = delay !== undefined && delay !== null;
  const hasAt = at !== undefined && at !== null;
  if (hasDelay && hasAt) throw new TypeError('give delay or at, not both');
  if (hasDelay) {
    if (typeof delay !== 'number' || !(delay >= 0 && delay < MAX_DELAY)) {
      const shown = typeof delay === 'string' ? JSON.stringify(delay) : String(delay);
      throw new RangeError(`delay must be a number of seconds from 0 (below ${MAX_DELAY}), got ${shown}`);
    }
    const micros = Math.floor(now * 1000) + Math.round(delay * 1e6);
    return new codec.DoshitDate(Math.floor(micros / 1000), micros % 1000);
  }
  if (hasAt) {
    if (!(at instanceof Date)) throw new TypeError(`at must be a Date, got ${inspect(at)}`);
    try {
      codec.formatTimestamp(at);
    } catch (error) {
      throw new RangeError(`at must be a valid Date of the years 0 to 9999: ${error.message}`);
    }
    return at;
  }
  return null;
}

/** A RangeError naming the size and the limit when the args JSON is longer than maxArgsBytes in UTF-8. */
function checkArgsSize(text, maxArgsBytes) {
  // Each UTF-16 unit is at most 3 bytes of UTF-8, so short texts need no counting.
  if (text.length * 3 <= maxArgsBytes) return;
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxArgsBytes) {
    throw new RangeError(`args are ${size} bytes as JSON, more than the client's limit of ${maxArgsBytes} (maxArgsBytes)`);
  }
}

/**
 * The exact hash a submit writes, as [field, value] pairs in schema order; `due` (a Date, see dueOf)
 * makes it a scheduled task. Throws before any I/O.
 */
function submitFields(
  fn,
  args,
  { queue, username, virtualMemoryLimit, resultTtl, retries, timeout, due, now, meta, maxArgsBytes = schema.limits.max_args_bytes } = {},
) {
  if (typeof fn !== 'string' || fn === '') {
    throw new TypeError(`function must be a non-empty string, got ${JSON.stringify(fn)}`);
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args) || args instanceof Date) {
    throw new TypeError('args must be an object of named arguments');
  }
  if (username !== undefined && username !== null && typeof username !== 'string') {
    throw new TypeError(`username must be a string, got ${typeof username}`);
  }
  const text = codec.encode(args, 'args');
  checkArgsSize(text, maxArgsBytes);
  const fields = [
    [FIELD.function, fn],
    [FIELD.state, due ? STATE.SCHEDULED : STATE.PENDING],
    [FIELD.args, text],
    [FIELD.pendingCreated, now ?? codec.nowTimestamp()],
    [FIELD.schemaVersion, String(schema.schema_version)],
    [FIELD.queue, queue],
    [FIELD.username, username ?? undefined],
    [FIELD.virtualMemoryLimit, wholeNumber(virtualMemoryLimit, 1, MAX_MEMORY_LIMIT, refused('virtualMemoryLimit'))],
    [FIELD.resultTtl, wholeNumber(resultTtl, 0, schema.limits.result_ttl_max_seconds, refused('resultTtl'))],
    [FIELD.retries, wholeNumber(retries, 0, MAX_RETRIES, refused('retries'))],
    [FIELD.timeout, wholeNumber(timeout, 1, MAX_TIMEOUT, refused('timeout'))],
    [FIELD.scheduledFor, due ? codec.formatTimestamp(due) : undefined],
    [FIELD.meta, meta === undefined || meta === null ? undefined : encodeMeta(meta, maxArgsBytes)],
  ];
  return fields.filter(([, value]) => value !== undefined);
}

/** The meta field: an object of JSON values (producer metadata such as a trace context). */
function encodeMeta(meta, maxBytes) {
  if (typeof meta !== 'object' || Array.isArray(meta) || meta instanceof Date) {
    throw new TypeError('meta must be an object of names to JSON values');
  }
  const text = codec.encode(meta, 'meta');
  if (Buffer.byteLength(text, 'utf8') > maxBytes) {
    throw new RangeError(`meta is more than the client's limit of ${maxBytes} bytes as JSON`);
  }
  return text;
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

function decodeArray(text) {
  const value = codec.decode(text);
  if (!Array.isArray(value)) throw new DecodeError('not a JSON array');
  return value;
}

const DECODERS = {
  string: (text) => text,
  enum: (text) => text,
  timestamp: codec.parseTimestamp,
  integer: decodeInteger,
  'json-object': decodeObject,
  'json-array': decodeArray,
  json: codec.decode,
};

/**
 * A task hash's fields as text: each value a string, or the bytes Redis holds (a Buffer or
 * Uint8Array), which are decoded as UTF-8. Returns [fields, names of the values that were not valid
 * UTF-8 (their text has replacement characters), or null]. A flat [name, value, ...] array (an
 * HGETALL reply read as bytes) is read too.
 */
function textFields(given) {
  const entries = [];
  if (Array.isArray(given)) {
    for (let i = 0; i < given.length; i += 2) entries.push([String(given[i]), given[i + 1]]);
  } else {
    entries.push(...Object.entries(given));
  }
  let notUtf8 = null;
  for (const entry of entries) {
    const value = entry[1];
    if (typeof value === 'string') continue;
    if (!(value instanceof Uint8Array)) throw new TypeError(`field ${entry[0]} must be a string or bytes`);
    if (!isUtf8(value)) (notUtf8 ??= new Set()).add(entry[0]);
    entry[1] = (Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)).toString('utf8');
  }
  // fromEntries, not assignment: a field named __proto__ stays an ordinary field.
  return [Object.fromEntries(entries), notUtf8];
}

/** The names of the fields of a TaskInfo that were not valid UTF-8 (set by the class below). */
let notUtf8Of;

/**
 * A snapshot of a task hash. `fields` holds the raw strings (best effort for bytes that were not
 * UTF-8); one property per schema field (camelCase) decodes its field on first access, so one bad
 * field does not hide the others: reading it throws a DecodeError that names the field.
 */
class TaskInfo {
  #decoded = new Map();
  #notUtf8;

  /** `fields`: field name -> string, or the bytes as Redis holds them (Buffer / Uint8Array). */
  constructor(id, fields) {
    this.id = id;
    const [text, notUtf8] = textFields(fields);
    this.#notUtf8 = notUtf8;
    this.fields = Object.freeze(text);
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
    notUtf8Of = (info) => info.#notUtf8;
    for (const field of schema.task_fields) {
      const decodeField = DECODERS[field.type];
      Object.defineProperty(TaskInfo.prototype, camel(field.name), {
        get() {
          const text = this.fields[field.name];
          if (text === undefined) return null;
          if (!this.#decoded.has(field.name)) {
            try {
              if (this.#notUtf8?.has(field.name)) throw new DecodeError('not valid UTF-8');
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

/** The task's fields as text; a DecodeError naming the first field whose bytes were not UTF-8. */
function checkedFields(info) {
  const [bad] = notUtf8Of(info) ?? [];
  if (bad !== undefined) throw new DecodeError(`task ${info.id}: field ${bad}: not valid UTF-8`);
  return info.fields;
}

module.exports = {
  MAX_MEMORY_LIMIT,
  MAX_RETRIES,
  MAX_TIMEOUT,
  FIELD,
  STATE,
  RESULT,
  SUBMIT_OPTIONS,
  TaskInfo,
  camel,
  checkArgsSize,
  checkOptions,
  checkedFields,
  dueOf,
  newTaskId,
  submitFields,
  wholeNumber,
};
