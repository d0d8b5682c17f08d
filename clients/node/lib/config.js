'use strict';
// Where to connect and which prefix and queue to use: options, then environment, then defaults.
// The environment variables, the default URL, the URL schemes and the reconnect delays are the
// schema's (`config` in schema/schema.json), the same as the Python side's: DOSHIT_REDIS_URL
// (redis://, rediss:// or unix:// URL), DOSHIT_REDIS (legacy JSON of connection settings, used when
// there is no URL), DOSHIT_APP_PREFIX, DOSHIT_QUEUE and DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT.
//
// URLs are parsed here, not by node-redis, so that a URL means the same as in redis-py (`?db=N`,
// the `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`, `ssl_cert_reqs` and `ssl_check_hostname` query
// parameters) and a bad one is a ConfigError at createClient that never shows the password.

const fs = require('node:fs');
const schema = require('./schema');
const { ConfigError } = require('./errors');
const { Keys } = require('./keys');
const { MAX_MEMORY_LIMIT, wholeNumber } = require('./protocol');

/** The environment variable of each setting, by the schema's key: ENV.url, ENV.redis_json, ENV.prefix, ... */
const ENV = Object.fromEntries(Object.entries(schema.config.environment).map(([setting, spec]) => [setting, spec.name]));
const DEFAULT_URL = schema.config.default_url;
const URL_SCHEMES = schema.config.url_schemes;
/** Milliseconds (node-redis's unit) to wait before each reconnect attempt; the last one repeats. */
const RECONNECT_DELAYS = schema.config.reconnect_delays_seconds.map((seconds) => Math.round(seconds * 1000));

/**
 * TLS settings named the way redis-py names them (as URL query parameters or DOSHIT_REDIS keys), so
 * that one URL works in both languages: the files, read at once, and the node-redis (tls.connect)
 * socket option each one's content goes to; and two switches.
 */
const TLS_FILES = { ssl_ca_certs: 'ca', ssl_certfile: 'cert', ssl_keyfile: 'key' };
const TLS_SWITCHES = {
  /** none: do not verify the server's certificate; optional and required verify it (a server always sends one). */
  ssl_cert_reqs(value, name, shown) {
    const word = String(value).toLowerCase();
    if (!['none', 'optional', 'required'].includes(word)) {
      throw new ConfigError(`${name} must be none, optional or required, got ${JSON.stringify(String(value))}: ${shown}`);
    }
    return word === 'none' ? { rejectUnauthorized: false } : {};
  },
  /** false (or 0, f, n, no, as redis-py reads it): do not check that the certificate names the host. */
  ssl_check_hostname(value) {
    return ['0', 'F', 'FALSE', 'N', 'NO'].includes(String(value).toUpperCase()) ? { checkServerIdentity: () => undefined } : {};
  },
};
/** The schemes of the schema's list that mean TLS and a unix socket. */
const TLS_SCHEME = 'rediss';
const UNIX_SCHEME = 'unix';
for (const scheme of [TLS_SCHEME, UNIX_SCHEME]) {
  if (!URL_SCHEMES.includes(scheme)) throw new Error(`the schema's URL schemes lack ${scheme}`);
}

const USERINFO = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([\s\S]*)@/;

/** The URL with its password replaced by ***, whatever the password holds ('@' and '/' too). */
function maskUrl(url) {
  const found = USERINFO.exec(url);
  if (found === null || !found[2].includes(':')) return url;
  return `${found[1]}${found[2].split(':', 1)[0]}:***@${url.slice(found[0].length)}`;
}

function decodePart(text, what, shown) {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ConfigError(`Redis URL has a bad percent-encoding in its ${what}: ${shown}`);
  }
}

/** A database number as the Python side accepts it: ASCII digits, at most 9 of them. */
function database(text, shown) {
  if (!/^\d{1,9}$/.test(text)) {
    throw new ConfigError(`Redis URL's database must be a number, got ${JSON.stringify(text)}: ${shown}`);
  }
  return Number(text);
}

/** host[:port] or [v6]:port as { host, port }; ConfigError for a port that is not 0 to 65535. */
function hostPort(text, shown) {
  const found = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(text);
  const host = found[1].replace(/^\[(.*)\]$/, '$1');
  const port = found[2];
  if (!host) throw new ConfigError(`Redis URL names no host: ${shown}`);
  if (port === undefined || port === '') return { host };
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
    throw new ConfigError(`Redis URL has a bad port ${JSON.stringify(port)} (a number from 0 to 65535): ${shown}`);
  }
  return { host, port: Number(port) };
}

/**
 * node-redis socket options for the TLS settings given by their redis-py names (ssl_...): the
 * contents of the files, and the switches. `tls` says whether the settings ask for TLS (`needs`
 * says how they would); a name the client does not read is refused rather than ignored.
 */
function tlsOptions(given, tls, needs, shown) {
  const socket = {};
  for (const [name, value] of Object.entries(given)) {
    if (!Object.hasOwn(TLS_FILES, name) && !Object.hasOwn(TLS_SWITCHES, name)) {
      const known = [...Object.keys(TLS_FILES), ...Object.keys(TLS_SWITCHES)].join(', ');
      throw new ConfigError(
        `${name} is not supported by the Node.js client (it reads ${known}; pass other TLS settings in the redis option's socket): ${shown}`,
      );
    }
    if (!tls) throw new ConfigError(`${name} needs ${needs}: ${shown}`);
    if (Object.hasOwn(TLS_SWITCHES, name)) {
      Object.assign(socket, TLS_SWITCHES[name](value, name, shown));
      continue;
    }
    try {
      socket[TLS_FILES[name]] = fs.readFileSync(String(value));
    } catch (error) {
      throw new ConfigError(`cannot read the ${name} file ${JSON.stringify(String(value))}: ${error.message}`);
    }
  }
  return socket;
}

/** The settings whose names say they are TLS settings (redis-py's ssl_ prefix). */
const tlsSettings = (entries) => Object.fromEntries(entries.filter(([name]) => name.startsWith('ssl_')));

/**
 * node-redis options for a redis://, rediss:// or unix:// URL; ConfigError (with the password
 * masked) for one that cannot be used.
 */
function fromUrl(url) {
  const shown = maskUrl(url);
  const head = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  const scheme = head ? head[1].toLowerCase() : url.split(':', 1)[0].toLowerCase();
  if (!head || !URL_SCHEMES.includes(scheme)) {
    const schemes = URL_SCHEMES.map((name) => `${name}://`);
    throw new ConfigError(`Redis URL must start with ${schemes.slice(0, -1).join(', ')} or ${schemes.at(-1)}: ${shown}`);
  }
  const rest = url.slice(head[0].length);
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const tail = end === -1 ? '' : rest.slice(end);
  // A raw '@' or '/' in the user or password makes the URL mean something else than was meant
  // (redis-py and node-redis would each read another host or path): refuse it, masked.
  if (tail.includes('@') || authority.split('@').length > 2) {
    throw new ConfigError(`Redis URL has '@' or '/' in its password or user: percent-encode them (%40, %2F): ${shown}`);
  }
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? null : authority.slice(0, at);
  const place = authority.slice(at + 1);
  const [, path, query = ''] = /^([^?#]*)(?:\?([^#]*))?/.exec(tail);
  const params = new URLSearchParams(query);
  const options = {};
  if (userinfo !== null) {
    const colon = userinfo.indexOf(':');
    const username = decodePart(colon === -1 ? userinfo : userinfo.slice(0, colon), 'user', shown);
    const password = colon === -1 ? '' : decodePart(userinfo.slice(colon + 1), 'password', shown);
    if (username) options.username = username;
    if (password) options.password = password;
  }
  let socket;
  if (scheme === UNIX_SCHEME) {
    if (place) throw new ConfigError(`a ${UNIX_SCHEME}:// Redis URL names no host (${UNIX_SCHEME}:///path/to/socket): ${shown}`);
    if (path === '' || path === '/') throw new ConfigError(`a ${UNIX_SCHEME}:// Redis URL needs the socket's path: ${shown}`);
    socket = { path: decodePart(path, 'path', shown) };
  } else {
    socket = hostPort(place, shown);
    if (path !== '' && path !== '/') options.database = database(path.slice(1), shown);
  }
  // As in redis-py, a db query parameter wins over the path.
  if (params.has('db')) options.database = database(params.get('db'), shown);
  Object.assign(socket, tlsOptions(tlsSettings([...params]), scheme === TLS_SCHEME, `a ${TLS_SCHEME}:// URL`, shown));
  if (scheme === TLS_SCHEME) socket.tls = true;
  return { ...options, socket };
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
  const given = tlsSettings(Object.entries(settings).filter(([, value]) => value !== null));
  const tls = { ...(ssl ? { tls: true } : {}), ...tlsOptions(given, Boolean(ssl), '"ssl": true', ENV.redis_json) };
  return {
    socket: path ? { path } : { host, port: Number(port), ...tls },
    ...(db !== undefined ? { database: Number(db) } : {}),
    ...(password ? { password } : {}),
    ...(username ? { username } : {}),
  };
}

/** The virtual memory limit of an option or the environment: a number of bytes, or ConfigError. */
function memoryLimit(name, value) {
  if (value === '') return undefined;
  const given = typeof value === 'string' && /^\d+$/.test(value.trim()) ? BigInt(value.trim()) : value;
  const text = wholeNumber(given, 1, MAX_MEMORY_LIMIT, (problem) => new ConfigError(`${name} ${problem} (bytes)`));
  if (text === undefined) return undefined;
  return Number.isSafeInteger(Number(text)) ? Number(text) : BigInt(text);
}

function positiveInteger(name, value, fallback) {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * The resolved settings: node-redis options for the connections, a description for messages (the
 * password masked), the keys of the prefix, the default queue, the default virtual memory limit and
 * the largest args a submit may write.
 */
function resolve(options = {}, env = process.env) {
  let url = options.url || env[ENV.url] || undefined;
  let connection;
  if (url === undefined && env[ENV.redis_json]) {
    connection = fromLegacyJson(env[ENV.redis_json]);
  } else {
    url = url ?? DEFAULT_URL;
    if (typeof url !== 'string') throw new ConfigError(`url must be a string, got ${typeof url}`);
    connection = fromUrl(url);
  }
  const keys = new Keys(options.prefix || env[ENV.prefix] || schema.defaults.prefix);
  const queue = options.queue || env[ENV.queue] || schema.defaults.queue;
  keys.pending(queue); // validates the queue name
  const { socket: moreSocket, ...more } = options.redis || {};
  return {
    connection: { ...connection, ...more, socket: { ...connection.socket, ...moreSocket } },
    describe: url === undefined ? ENV.redis_json : maskUrl(url),
    keys,
    queue,
    virtualMemoryLimit:
      memoryLimit('virtualMemoryLimit', options.virtualMemoryLimit) ??
      memoryLimit(ENV.virtual_memory_limit, env[ENV.virtual_memory_limit]),
    maxArgsBytes: positiveInteger('maxArgsBytes', options.maxArgsBytes, schema.limits.max_args_bytes),
  };
}

/**
 * node-redis options for one connection: a first connection that fails rejects at once (so that
 * createClient reports a wrong address instead of hanging); once connected, a lost connection is
 * retried forever with backoff.
 */
function connectionOptions(settings, state) {
  return {
    ...settings.connection,
    socket: {
      ...settings.connection.socket,
      reconnectStrategy: (retries, cause) =>
        state.connected ? RECONNECT_DELAYS[Math.min(retries, RECONNECT_DELAYS.length - 1)] : cause,
    },
  };
}

/**
 * What a refusal by Redis while connecting says about the configuration, as a ConfigError, or null
 * when it is not a configuration problem (nothing listening, say).
 */
function configProblem(error, describe) {
  const message = String(error?.message ?? error);
  if (message.includes('DB index is out of range')) {
    return new ConfigError(
      `the database number is out of range for the Redis at ${describe} (its \`databases\` setting): ${message}`,
    );
  }
  if (/^(WRONGPASS|NOAUTH|NOPERM)\b/.test(message)) {
    return new ConfigError(`Redis at ${describe} refused access: ${message}`);
  }
  return null;
}

module.exports = {
  DEFAULT_URL,
  ENV,
  RECONNECT_DELAYS,
  configProblem,
  connectionOptions,
  maskUrl,
  resolve,
};
