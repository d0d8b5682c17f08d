'use strict';
// Named calls of the schema's Lua scripts, their replies read by name, and the one runner that sends
// them. A call names its keys and arguments; the order of KEYS and ARGV comes from schema/schema.json
// (lib/schema.js), so no caller types it, and a name that is missing or unknown is refused before
// anything is sent. A reply is read by the names the schema gives it: an integer code, a list whose
// first element names its variant, or a word. The Python counterpart is doshit/_core/scripts.py; both
// run schema/vectors/scripts.json.

const { inspect } = require('node:util');
const schema = require('./schema');
const { DecodeError } = require('./errors');

/**
 * An ARGV name ending in this takes the rest of ARGV: an object of field -> value, flattened in its
 * own order (JavaScript lists integer-like keys first; no hash field name of the schema is one).
 */
const REST = '...';
/** A KEYS or ARGV name ending in this takes the rest: an array of values, as they are. */
const LIST = '*';

/** The bare name of a KEYS or ARGV entry: without '...' or '*'. */
function bare(name) {
  if (name.endsWith(REST)) return name.slice(0, -REST.length);
  return name.endsWith(LIST) ? name.slice(0, -LIST.length) : name;
}

/** KEYS or ARGV in the script's order, from values given by name. */
function flatten(script, kind, declared, given) {
  const names = declared.map(bare);
  checkNames(script, kind, names, given);
  const flat = [];
  declared.forEach((spelled, index) => {
    const name = names[index];
    const value = given[name];
    const what = kind === 'keys' ? `key ${name}` : `argument ${name}`;
    if (spelled.endsWith(LIST)) {
      if (!Array.isArray(value)) throw new TypeError(`script ${script}: ${what} must be an array`);
      for (const item of value) flat.push(typeof item === 'string' ? item : text(script, what, item));
    } else if (!spelled.endsWith(REST)) {
      flat.push(text(script, what, value));
    } else if (!isPlainObject(value)) {
      throw new TypeError(`script ${script}: ${what} must be an object of field name -> value`);
    } else {
      for (const [field, item] of Object.entries(value)) {
        flat.push(field, text(script, `${what} (field ${field})`, item));
      }
    }
  });
  return flat;
}

function specOf(name) {
  if (typeof name !== 'string' || !Object.hasOwn(schema.scripts, name)) {
    throw new TypeError(`no script named ${inspect(name)}; the scripts are ${Object.keys(schema.scripts).join(', ')}`);
  }
  return schema.scripts[name];
}

/** A plain object of name -> value (not an array, a Map or null). */
function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function text(script, name, value) {
  if (typeof value === 'string') return value;
  if ((typeof value === 'number' && Number.isSafeInteger(value)) || typeof value === 'bigint') return String(value);
  throw new TypeError(`script ${script}: ${name} must be text or an integer, got ${inspect(value)}`);
}

function checkNames(script, kind, declared, given) {
  if (!isPlainObject(given)) throw new TypeError(`script ${script}: ${kind} must be an object of name -> value`);
  const missing = declared.filter((name) => !Object.hasOwn(given, name));
  const unknown = Object.keys(given).filter((name) => !declared.includes(name));
  if (missing.length || unknown.length) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.join(', ')}`);
    if (unknown.length) parts.push(`unknown ${unknown.join(', ')}`);
    throw new TypeError(`script ${script}: ${kind}: ${parts.join('; ')} (it takes ${declared.join(', ')})`);
  }
}

/**
 * The call of script `name` with its keys and arguments given by their schema names:
 * { name, spec, keys, argv }, KEYS and ARGV in the order the script reads them. Throws a TypeError
 * for a missing or unknown name; no I/O.
 */
function scriptCall(name, { keys, argv } = {}) {
  const spec = specOf(name);
  const keyList = flatten(name, 'keys', spec.keys, keys);
  const flat = flatten(name, 'argv', spec.argv, argv);
  return Object.freeze({ name, spec, keys: Object.freeze(keyList), argv: Object.freeze(flat) });
}

/** How each kind of `reply` in the schema reads a raw reply: { status, ...values }, or null if it is not one. */
const READERS = {
  codes: (codes, raw) => (Number.isInteger(raw) && Object.hasOwn(codes, String(raw)) ? { status: codes[raw] } : null),
  tagged(tagged, raw) {
    if (!Array.isArray(raw) || typeof raw[0] !== 'string' || !Object.hasOwn(tagged, raw[0])) return null;
    const names = tagged[raw[0]];
    if (raw.length !== names.length + 1) return null;
    return Object.fromEntries([['status', raw[0]], ...names.map((valueName, index) => [valueName, raw[index + 1]])]);
  },
  words: (words, raw) => (typeof raw === 'string' && words.includes(raw) ? { status: raw } : null),
};

/** What script `name`'s raw reply says, by name: { status, ...values }; DecodeError if the schema does not list it. */
function parseReply(name, raw) {
  const spec = specOf(name);
  const [[kind, described]] = Object.entries(spec.reply);
  const reply = READERS[kind](described, raw);
  if (reply === null) throw new DecodeError(`script ${name} replied ${inspect(raw)}, which is not one of its replies`);
  return reply;
}

/**
 * The one way to run a script: a call from scriptCall, by its SHA1, loading the script first if this
 * Redis lacks it. Resolves with the reply read by parseReply.
 */
async function runScript(redis, call) {
  const command = ['EVALSHA', call.spec.sha, String(call.keys.length), ...call.keys, ...call.argv];
  let raw;
  try {
    raw = await redis.sendCommand(command);
  } catch (error) {
    if (!String(error.message).startsWith('NOSCRIPT')) throw error;
    await redis.sendCommand(['SCRIPT', 'LOAD', call.spec.source]);
    raw = await redis.sendCommand(command);
  }
  return parseReply(call.name, raw);
}

module.exports = { scriptCall, parseReply, runScript };
