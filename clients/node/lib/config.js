'use strict';
// Where to connect and which prefix and queue to use: options, then environment, then defaults.
// The environment variables, the default URL, the URL schemes and the reconnect delays are the
// schema's (`config` in schema/schema.json), the same as the Python side's: DOSHIT_REDIS_URL
// (redis://, rediss:// or unix:// URL), DOSHIT_REDIS (legacy JSON of connection settings, used when
// there is no URL), DOSHIT_APP_PREFIX, DOSHIT_QUEUE and DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT.

const schema = require('./schema');
const { ConfigError } = require('./errors');
const { Keys } = require('./keys');

/** The environment variable of each setting, by the schema's key: ENV.url, ENV.redis_json, ENV.prefix, ... */
const ENV = Object.fromEntries(Object.entries(schema.config.environment).map(([setting, spec]) => [setting, spec.name]));
const DEFAULT_URL = schema.config.default_url;
const URL_SCHEMES = schema.config.url_schemes;
/** Milliseconds (node-redis's unit) to wait before each reconnect attempt; the last one repeats. */
const RECONNECT_DELAYS = schema.config.reconnect_delays_seconds.map((seconds) => Math.round(seconds * 1000));

/** Where a URL points, with any password masked. */
function maskUrl(url) {
  return url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

function unixSocket(url) {
  const parsed = new URL(url);
  const db = parsed.searchParams.get('db');
  return {
    socket: { path: decodeURIComponent(parsed.pathname) },
    ...(db ? { database: Number(db) } : {}),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
  };
}

function fromLegacyJson(text) {
  let settings;
  try {
    settings = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${ENV.redis_json} is not JSON: ${error.message}`);
  }
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) {
    throw new ConfigError(`${ENV.redis_json} must be a JSON object of redis connection settings`);
  }
  const { host = '127.0.0.1', port = 6379, db, password, username, unix_socket_path: path, ssl } = settings;
  return {
    socket: path ? { path } : { host, port: Number(port), ...(ssl ? { tls: true } : {}) },
    ...(db !== undefined ? { database: Number(db) } : {}),
    ...(password ? { password } : {}),
    ...(username ? { username } : {}),
  };
}

function positiveInteger(name, value) {
  if (value === undefined || value === null || value === '') return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number <= 0) {
    throw new ConfigError(`${name} must be a positive integer number of bytes, got ${JSON.stringify(value)}`);
  }
  return number;
}

/**
 * The resolved settings: node-redis options for the connections, a description for messages,
 * the keys of the prefix, the default queue and the default virtual memory limit.
 */
function resolve(options = {}, env = process.env) {
  let url = options.url || env[ENV.url] || undefined;
  let connection;
  if (url === undefined && env[ENV.redis_json]) {
    connection = fromLegacyJson(env[ENV.redis_json]);
  } else {
    url = url ?? DEFAULT_URL;
    const scheme = url.split(':', 1)[0].toLowerCase();
    if (!URL_SCHEMES.includes(scheme)) {
      const schemes = URL_SCHEMES.map((name) => `${name}://`);
      throw new ConfigError(`Redis URL must start with ${schemes.slice(0, -1).join(', ')} or ${schemes.at(-1)}: ${maskUrl(url)}`);
    }
    connection = scheme === 'unix' ? unixSocket(url) : { url };
  }
  const keys = new Keys(options.prefix || env[ENV.prefix] || schema.defaults.prefix);
  const queue = options.queue || env[ENV.queue] || schema.defaults.queue;
  keys.pending(queue); // validates the queue name
  return {
    connection: { ...connection, ...(options.redis || {}) },
    describe: url === undefined ? ENV.redis_json : maskUrl(url),
    keys,
    queue,
    virtualMemoryLimit:
      positiveInteger('virtualMemoryLimit', options.virtualMemoryLimit) ??
      positiveInteger(ENV.virtual_memory_limit, env[ENV.virtual_memory_limit]),
  };
}

/**
 * node-redis options for one connection: a first connection that fails rejects at once (so that
 * createClient reports a wrong address instead of hanging); once connected, a lost connection is
 * retried forever with backoff.
 */
function connectionOptions(settings, state) {
  const given = settings.connection.socket || {};
  return {
    ...settings.connection,
    socket: {
      ...given,
      reconnectStrategy: (retries, cause) =>
        state.connected ? RECONNECT_DELAYS[Math.min(retries, RECONNECT_DELAYS.length - 1)] : cause,
    },
  };
}

module.exports = { DEFAULT_URL, ENV, RECONNECT_DELAYS, connectionOptions, maskUrl, resolve };
