'use strict';
// Values and timestamps as the schema writes them: compact JSON (never anything else), integers
// beyond 2^53 as BigInt, and legacy datetime objects as Date.
//
// JSON.parse would round big integers, read 1e999 as Infinity, and JSON.stringify would turn NaN
// into null and drop functions, so encoding is done here and decoding falls back to an exact parser
// whenever the text holds a run of 16 or more digits (the shortest an unsafe integer can be) or an
// exponent of three digits or more (the only other way to go beyond a double's range).
//
// A JSON object key "__proto__" is kept as an own data property, as JSON.parse makes it (and as the
// Python side keeps it as an ordinary key): decoding never changes a prototype. Code that merges a
// decoded object into another with Object.assign or a for-in copy would set that object's prototype:
// the package README says so.

const schema = require('./schema');
const { DecodeError, EncodeError } = require('./errors');

const TIMESTAMP = new RegExp(schema.timestamp.regex);
const { type_key: TYPE_KEY, type_value: TYPE_VALUE, value_key: VALUE_KEY } = schema.datetime_value;
const DATETIME_MARK = JSON.stringify(TYPE_VALUE);
const EXACT_NEEDED = /\d{16}|[eE]\+?\d{3}/;

/**
 * A Date that keeps the microseconds of a doshit timestamp, so that a datetime read from a task
 * is written back exactly. `micros` is the part below the millisecond (0 to 999).
 */
class DoshitDate extends Date {
  constructor(time, micros = 0) {
    super(time);
    if (!Number.isInteger(micros) || micros < 0 || micros > 999) {
      throw new RangeError(`micros must be an integer from 0 to 999, got ${micros}`);
    }
    this.micros = micros;
  }

  /** A doshit timestamp (`YYYY-MM-DDTHH:MM:SS.ffffffZ`) as a DoshitDate. */
  static fromTimestamp(text) {
    return parseTimestamp(text);
  }

  /** This moment as a doshit timestamp. */
  toTimestamp() {
    return formatTimestamp(this);
  }
}

/** A Date as a doshit timestamp: UTC, six fractional digits, literal Z. */
function formatTimestamp(date) {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new EncodeError(`not a valid Date: ${String(date)}`);
  }
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ, or ±YYYYYY-... outside years 0-9999
  if (iso.length !== 24) throw new EncodeError(`a doshit timestamp needs a year from 0 to 9999: ${iso}`);
  const micros = date instanceof DoshitDate ? date.micros : 0;
  return `${iso.slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
}

/** A doshit timestamp as a DoshitDate; DecodeError for any other text. */
function parseTimestamp(text) {
  if (typeof text !== 'string' || !TIMESTAMP.test(text)) {
    throw new DecodeError(`not a doshit timestamp (YYYY-MM-DDTHH:MM:SS.ffffffZ): ${JSON.stringify(text)}`);
  }
  const time = Date.parse(`${text.slice(0, 23)}Z`);
  if (Number.isNaN(time)) throw new DecodeError(`not a real moment: ${JSON.stringify(text)}`);
  return new DoshitDate(time, Number(text.slice(23, 26)));
}

/** The current UTC time as a doshit timestamp, to the microsecond where the clock allows. */
function nowTimestamp() {
  const now = performance.timeOrigin + performance.now();
  const ms = Math.floor(now);
  return formatTimestamp(new DoshitDate(ms, Math.min(999, Math.floor((now - ms) * 1000))));
}

function describe(value) {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return value.constructor ? value.constructor.name : 'object without prototype';
}

function isPlainObject(value) {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function encodeValue(value, path, seen) {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'number':
      if (!Number.isFinite(value)) throw new EncodeError(`${path} is ${value}, which has no JSON form`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value) && Math.abs(value) < 1e21) {
        throw new EncodeError(
          `${path} is the integer ${value}, beyond 2^53, which a Number cannot hold exactly; pass a BigInt`,
        );
      }
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw new EncodeError(`${path} is ${value === undefined ? 'undefined' : `a ${typeof value}`}, which has no JSON form`);
  }
  if (value === null) return 'null';
  if (value instanceof Date) {
    return `{${JSON.stringify(TYPE_KEY)}:${JSON.stringify(TYPE_VALUE)},${JSON.stringify(VALUE_KEY)}:"${formatTimestamp(value)}"}`;
  }
  if (seen.has(value)) throw new EncodeError(`${path} refers to itself`);
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      const items = [];
      for (let index = 0; index < value.length; index += 1) {
        items.push(encodeValue(value[index], `${path}[${index}]`, seen));
      }
      return `[${items.join(',')}]`;
    }
    if (isPlainObject(value)) {
      const items = [];
      for (const key of Object.keys(value)) {
        if (value[key] === undefined) continue; // an absent optional argument, as in JSON.stringify
        items.push(`${JSON.stringify(key)}:${encodeValue(value[key], `${path}.${key}`, seen)}`);
      }
      return `{${items.join(',')}}`;
    }
    if (typeof value.toJSON === 'function' && !ArrayBuffer.isView(value)) {
      return encodeValue(value.toJSON(), path, seen);
    }
    throw new EncodeError(`${path} is a ${describe(value)}, which has no JSON form; pass plain objects, arrays and values`);
  } finally {
    seen.delete(value);
  }
}

/** A value as compact JSON text, the same text the Python client writes; EncodeError otherwise. */
function encode(value, name = 'value') {
  try {
    return encodeValue(value, name, new Set());
  } catch (error) {
    if (error instanceof RangeError) throw new EncodeError(`${name} is nested too deeply: ${error.message}`);
    throw error;
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const INTEGER = /^-?\d+$/;

/** JSON text with every integer exact: unsafe ones become BigInt. */
function parseExact(text) {
  let at = 0;
  const fail = (what) => {
    throw new SyntaxError(`${what} at position ${at}`);
  };
  const space = () => {
    while (at < text.length) {
      const c = text.charCodeAt(at);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
      at += 1;
    }
  };
  const string = () => {
    STRING.lastIndex = at;
    const match = STRING.exec(text);
    if (!match) fail('bad string');
    at = STRING.lastIndex;
    return JSON.parse(match[0]);
  };
  const literal = (word, result) => {
    if (!text.startsWith(word, at)) fail('unexpected character');
    at += word.length;
    return result;
  };
  const value = () => {
    space();
    const c = text[at];
    if (c === '{') {
      at += 1;
      const object = {};
      space();
      if (text[at] === '}') {
        at += 1;
        return object;
      }
      for (;;) {
        space();
        if (text[at] !== '"') fail('expected a string key');
        const key = string();
        space();
        if (text[at] !== ':') fail("expected ':'");
        at += 1;
        Object.defineProperty(object, key, { value: value(), enumerable: true, writable: true, configurable: true });
        space();
        if (text[at] === ',') at += 1;
        else if (text[at] === '}') return (at += 1), object;
        else fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      at += 1;
      const array = [];
      space();
      if (text[at] === ']') {
        at += 1;
        return array;
      }
      for (;;) {
        array.push(value());
        space();
        if (text[at] === ',') at += 1;
        else if (text[at] === ']') return (at += 1), array;
        else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    NUMBER.lastIndex = at;
    const match = NUMBER.exec(text);
    if (!match) fail(at < text.length ? 'unexpected character' : 'unexpected end');
    const number = Number(match[0]);
    if (INTEGER.test(match[0])) {
      at = NUMBER.lastIndex;
      return Number.isSafeInteger(number) ? number : BigInt(match[0]);
    }
    if (!Number.isFinite(number)) fail(`number ${match[0].slice(0, 40)} is beyond a double's range`);
    at = NUMBER.lastIndex;
    return number;
  };
  const result = value();
  space();
  if (at !== text.length) fail('unexpected text after the value');
  return result;
}

function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 2 && value[TYPE_KEY] === TYPE_VALUE) {
    const stamp = value[VALUE_KEY];
    if (typeof stamp === 'string' && TIMESTAMP.test(stamp)) return parseTimestamp(stamp);
  }
  for (const key of keys) value[key] = revive(value[key]);
  return value;
}

/**
 * JSON text as a value: legacy datetime objects become DoshitDate, integers beyond 2^53 BigInt.
 * DecodeError for anything else: bad syntax, a number beyond a double's range (1e999), nesting
 * deeper than the parser can follow.
 */
function decode(text) {
  if (typeof text !== 'string') throw new DecodeError(`expected JSON text, got ${describe(text)}`);
  try {
    const value = EXACT_NEEDED.test(text) ? parseExact(text) : JSON.parse(text);
    return text.includes(DATETIME_MARK) ? revive(value) : value;
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    if (error instanceof RangeError) throw new DecodeError('not decodable JSON: nested too deeply');
    throw new DecodeError(`not valid JSON: ${error.message}`);
  }
}

module.exports = { DoshitDate, decode, encode, formatTimestamp, parseTimestamp, nowTimestamp };
