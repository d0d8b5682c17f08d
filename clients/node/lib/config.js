'use strict';
// Where to connect and which prefix and queue to use: options, then environment, then defaults.
// The environment variables, the default URL, the URL schemes and the reconnect delays are the
// schema's (`config` in schema/schema.json), the same as the Python side's: DOSHIT_REDIS_URL
// (redis://, rediss://, unix://, redis+sentinel:// or redis+cluster:// URL), DOSHIT_REDIS (legacy
// JSON of connection settings, used when there is no URL), DOSHIT_APP_PREFIX, DOSHIT_QUEUE and
// DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT.
//
// URLs are parsed here, not by node-redis, so that a URL means the same as in redis-py (`?db=N`,
// the `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`, `ssl_cert_reqs` and `ssl_check_hostname` query
// parameters) and a bad one is a ConfigError at createClient that never shows the password. A
// redis+sentinel://[user:password@]host[:port][,host[:port]...]/service[/db] URL and a
// redis+cluster://[user:password@]host[:port][,host[:port]...][/] URL mean what
// doshit/_core/config.py reads them to mean, and any URL may ask for durable submits
// (?durable_replicas=N&durable_timeout_ms=T).

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
/** The schemes of the schema's list that mean TLS, a unix socket, sentinels and a cluster. */
const TLS_SCHEME = 'rediss';
const UNIX_SCHEME = 'unix';
const SENTINEL_SCHEME = 'redis+sentinel';
const CLUSTER_SCHEME = schema.cluster.scheme;
for (const scheme of [TLS_SCHEME, UNIX_SCHEME, SENTINEL_SCHEME, CLUSTER_SCHEME]) {
  if (!URL_SCHEMES.includes(scheme)) throw new Error(`the schema's URL schemes lack ${scheme}`);
}
/** A sentinel's port when the URL gives none. */
const SENTINEL_PORT = 26379;
/** Query parameters of any URL that ask a submit to wait for replicas (WAIT). */
const DURABILITY_PARAMS = ['durable_replicas', 'durable_timeout_ms'];
/** Timeouts in seconds a URL of several hosts may give (socket_timeout is redis-py's reply timeout: read, not used). */
const TIMEOUT_PARAMS = ['socket_timeout', 'socket_connect_timeout'];
/** The other query parameters of a redis+sentinel:// URL. */
const SENTINEL_PARAMS = ['db', 'sentinel_username', 'sentinel_password', ...TIMEOUT_PARAMS];
/** The other query parameters of a redis+cluster:// URL: no db (a cluster has one database, 0), no TLS files. */
const CLUSTER_PARAMS = TIMEOUT_PARAMS;
const DURABLE_TIMEOUT_MS = 1000;
const MAX_DURABLE_TIMEOUT_MS = 60000;
const MAX_REPLICAS = 100;

const USERINFO = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([\s\S]*)@/;
const QUERY_PASSWORD = /([?&](?:sentinel_)?password=)[^&#]*/gi;

/**
 * The URL with its passwords replaced by ***, whatever they hold ('@' and '/' too): the one in the
 * user info, and a (sentinel_)password query parameter.
 */
function maskUrl(url) {
  const masked = url.replace(QUERY_PASSWORD, '$1***');
  const found = USERINFO.exec(masked);
  if (found === null || !found[2].includes(':')) return masked;
  return `${found[1]}${found[2].split(':', 1)[0]}:***@${masked.slice(found[0].length)}`;
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

function wholeParam(name, text, low, high, shown) {
  if (!/^\d{1,9}$/.test(text) || Number(text) < low || Number(text) > high) {
    throw new ConfigError(
      `Redis URL's ${name} must be a whole number from ${low} to ${high}, got ${JSON.stringify(text)}: ${shown}`,
    );
  }
  return Number(text);
}

/** { replicas, timeoutMs } from durable_replicas and durable_timeout_ms, or null: submits do not wait for replicas. */
function durabilityOf(params, shown) {
  const [replicasName, timeoutName] = DURABILITY_PARAMS;
  if (!params.has(replicasName)) {
    if (params.has(timeoutName)) throw new ConfigError(`Redis URL gives ${timeoutName} without ${replicasName}: ${shown}`);
    return null;
  }
  const replicas = wholeParam(replicasName, params.get(replicasName), 0, MAX_REPLICAS, shown);
  const timeoutMs = params.has(timeoutName)
    ? wholeParam(timeoutName, params.get(timeoutName), 1, MAX_DURABLE_TIMEOUT_MS, shown)
    : DURABLE_TIMEOUT_MS;
  return replicas ? Object.freeze({ replicas, timeoutMs }) : null;
}

function secondsParam(name, text, shown) {
  const value = /^\s*[0-9.eE+-]+\s*$/.test(text) ? Number(text) : NaN;
  if (!(value > 0 && value <= 3600)) {
    throw new ConfigError(`Redis URL's ${name} must be a number of seconds above 0, got ${JSON.stringify(text)}: ${shown}`);
  }
  return value;
}

/**
 * A URL after its scheme, in parts: the user and password (decoded, in node-redis option names), the
 * host part, the path and the query. A raw '@' or '/' in the user or password makes the URL mean
 * something else than was meant (redis-py and node-redis would each read another host or path):
 * refused, masked.
 */
function urlParts(rest, shown) {
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const tail = end === -1 ? '' : rest.slice(end);
  if (tail.includes('@') || authority.split('@').length > 2) {
    throw new ConfigError(`Redis URL has '@' or '/' in its password or user: percent-encode them (%40, %2F): ${shown}`);
  }
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? null : authority.slice(0, at);
  const [, path, query = ''] = /^([^?#]*)(?:\?([^#]*))?/.exec(tail);
  const credentials = {};
  if (userinfo !== null) {
    const colon = userinfo.indexOf(':');
    const username = decodePart(colon === -1 ? userinfo : userinfo.slice(0, colon), 'user', shown);
    const password = colon === -1 ? '' : decodePart(userinfo.slice(colon + 1), 'password', shown);
    if (username) credentials.username = username;
    if (password) credentials.password = password;
  }
  return { credentials, host: authority.slice(at + 1), path, params: new URLSearchParams(query) };
}

/**
 * The hosts of a URL that names several (sentinels, cluster nodes): `places` is
 * host[:port],host[:port]..., read as [{ host, port }] with `defaultPort` where the port is left out.
 * `kind` words the errors: { scheme, noun (one host), names (what the URL must name), form (an example) }.
 */
function hostList(places, { scheme, noun, names, form, defaultPort }, shown) {
  if (!places) throw new ConfigError(`a ${scheme}:// URL names ${names}: ${form}: ${shown}`);
  return places.split(',').map((place) => {
    if (!place) throw new ConfigError(`a ${scheme}:// URL names a ${noun} without a host (''): ${shown}`);
    const node = hostPort(place, shown);
    if (node.port === 0) throw new ConfigError(`Redis URL has a bad port "0" (a number from 1 to 65535): ${shown}`);
    return { host: node.host, port: node.port ?? defaultPort };
  });
}

/** ConfigError for a query parameter the scheme does not take: it takes `allowed` and the durability ones. */
function checkParams(params, scheme, allowed, shown) {
  const known = [...allowed, ...DURABILITY_PARAMS];
  const unknown = [...new Set(params.keys())].filter((name) => !known.includes(name));
  if (unknown.length) {
    throw new ConfigError(
      `${unknown.sort().join(', ')}: not a parameter of a ${scheme}:// URL (it takes ${known.join(', ')}): ${shown}`,
    );
  }
}

/** node-redis socket options for the query's timeouts (TIMEOUT_PARAMS), each one checked. */
function timeoutSocket(params, shown) {
  const seconds = {};
  for (const name of TIMEOUT_PARAMS) {
    if (params.has(name)) seconds[name] = secondsParam(name, params.get(name), shown);
  }
  const connect = seconds.socket_connect_timeout;
  return connect === undefined ? {} : { connectTimeout: Math.round(connect * 1000) };
}

/**
 * node-redis createSentinel options for a redis+sentinel:// URL (its user, password and database
 * are the master's, in nodeClientOptions), and the durability it asks for.
 */
function fromSentinelUrl(rest, shown) {
  const form = `${SENTINEL_SCHEME}://host1:26379,host2:26379/service[/db]`;
  const { credentials, host: places, path, params } = urlParts(rest, shown);
  const options = { ...credentials };
  const kind = { scheme: SENTINEL_SCHEME, noun: 'sentinel', names: 'its sentinels and the service', form };
  const sentinelRootNodes = hostList(places, { ...kind, defaultPort: SENTINEL_PORT }, shown);
  const segments = path ? path.split('/').slice(1) : [];
  if (segments.length === 0 || !segments[0]) {
    throw new ConfigError(`a ${SENTINEL_SCHEME}:// URL needs the service (master) name: ${form}: ${shown}`);
  }
  if (segments.length > 2 || (segments.length === 2 && !segments[1])) {
    throw new ConfigError(`a ${SENTINEL_SCHEME}:// URL's path is /service or /service/db: ${form}: ${shown}`);
  }
  checkParams(params, SENTINEL_SCHEME, SENTINEL_PARAMS, shown);
  options.database = database(params.has('db') ? params.get('db') : (segments[1] ?? '0'), shown);
  const socket = timeoutSocket(params, shown);
  const sentinelClientOptions = { socket: { ...socket } };
  if (params.get('sentinel_username')) sentinelClientOptions.username = params.get('sentinel_username');
  if (params.get('sentinel_password')) sentinelClientOptions.password = params.get('sentinel_password');
  const sentinel = { name: decodePart(segments[0], 'service', shown), sentinelRootNodes, sentinelClientOptions };
  return { connection: { ...options, socket }, sentinel, cluster: null, durability: durabilityOf(params, shown) };
}

/**
 * node-redis createCluster options for a redis+cluster:// URL: the nodes to learn the cluster from
 * (rootNodes: any one that answers is enough) and, as `connection`, what every node's connection
 * takes (user, password, timeouts: createCluster's `defaults`); and the durability it asks for. A
 * cluster has one database, 0: a path other than '', '/' or '/0' is refused, as doshit/_core/config.py
 * refuses it, and so are ?db= and TLS files.
 */
function fromClusterUrl(rest, shown) {
  const form = `${CLUSTER_SCHEME}://host1:6379,host2:6379`;
  const { credentials, host: places, path, params } = urlParts(rest, shown);
  const kind = { scheme: CLUSTER_SCHEME, noun: 'node', names: 'one node or more', form };
  const nodes = hostList(places, { ...kind, defaultPort: schema.cluster.default_port }, shown);
  if (!['', '/', '/0'].includes(path)) {
    throw new ConfigError(`a ${CLUSTER_SCHEME}:// URL has no path (a cluster has one database, 0): ${form}: ${shown}`);
  }
  checkParams(params, CLUSTER_SCHEME, CLUSTER_PARAMS, shown);
  const connection = { ...credentials, socket: timeoutSocket(params, shown) };
  const cluster = { rootNodes: nodes.map((socket) => ({ socket })) };
  return { connection, sentinel: null, cluster, durability: durabilityOf(params, shown) };
}

/**
 * node-redis options for a redis://, rediss:// or unix:// URL; ConfigError (with the password
 * masked) for one that cannot be used. A redis+sentinel:// URL: see fromSentinelUrl; a
 * redis+cluster:// URL: see fromClusterUrl.
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
  if (scheme === SENTINEL_SCHEME) return fromSentinelUrl(rest, shown);
  if (scheme === CLUSTER_SCHEME) return fromClusterUrl(rest, shown);
  const { credentials, host: place, path, params } = urlParts(rest, shown);
  const options = { ...credentials };
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
  return { connection: { ...options, socket }, sentinel: null, cluster: null, durability: durabilityOf(params, shown) };
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
  let sentinel = null;
  let cluster = null;
  let durability = null;
  if (url === undefined && env[ENV.redis_json]) {
    connection = fromLegacyJson(env[ENV.redis_json]);
  } else {
    url = url ?? DEFAULT_URL;
    if (typeof url !== 'string') throw new ConfigError(`url must be a string, got ${typeof url}`);
    ({ connection, sentinel, cluster, durability } = fromUrl(url));
  }
  // On a cluster the keys follow its layout (hash tags): every key one script touches shares a slot.
  const keys = new Keys(options.prefix || env[ENV.prefix] || schema.defaults.prefix, { cluster: cluster !== null });
  const queue = options.queue || env[ENV.queue] || schema.defaults.queue;
  keys.pending(queue); // validates the queue name
  const { socket: moreSocket, ...more } = options.redis || {};
  return {
    connection: { ...connection, ...more, socket: { ...connection.socket, ...moreSocket } },
    /** createSentinel's name, sentinelRootNodes and sentinelClientOptions, for a redis+sentinel:// URL; else null. */
    sentinel,
    /** createCluster's rootNodes, for a redis+cluster:// URL (`connection` then goes to every node); else null. */
    cluster,
    /** { replicas, timeoutMs } for durable submits, or null. */
    durability,
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
