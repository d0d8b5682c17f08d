'use strict';
// The client against a real Redis, with the schema's own claim and finish scripts as the worker.

const assert = require('node:assert/strict');
const { test } = require('node:test');
const doshit = require('..');
const { camel } = require('../lib/protocol');
const { clientPerTest, privateRedis, waitFor, sleep, workOne } = require('./helpers');

const db = privateRedis();
let prefix;
let client;

clientPerTest(db, { made: (fresh) => ({ prefix, client } = fresh), current: () => client });

const echo = (fn, args) => ({ value: 'value' in args ? args.value : args.text });

async function clientConnections() {
  const list = await db.redis.sendCommand(['CLIENT', 'LIST']);
  return list.trim().split('\n').length - 1; // all but the raw connection itself
}

test('submit, a worker finishes it, result() resolves with the value', async () => {
  const task = await client.submit('echo', { text: 'héllo ✓ 日本語 🎉' });
  assert.match(task.id, /^[0-9a-f-]{36}$/);
  await workOne(db.redis, prefix, echo);
  assert.equal(await task.result({ timeout: 5000 }), 'héllo ✓ 日本語 🎉');
  assert.equal(await task.poll(), true);
  assert.equal(client.watching, 0);
});

test('a result announced before result() is called is not missed', async () => {
  const task = await client.submit('echo', { value: 42 });
  await workOne(db.redis, prefix, echo);
  await sleep(50);
  assert.equal(await task.result({ timeout: 1000 }), 42);
});

test('a result announced while result() waits is delivered', async () => {
  const task = await client.submit('echo', { value: 'later' });
  const result = task.result({ timeout: 5000 });
  await sleep(50);
  await workOne(db.redis, prefix, echo);
  assert.equal(await result, 'later');
});

test('falsy values, big integers and datetimes come back exactly', async () => {
  const values = [0, '', false, null, [], {}, 12345678901234567890n, doshit.DoshitDate.fromTimestamp('2015-12-05T00:19:01.834909Z')];
  const tasks = [];
  for (const value of values) tasks.push(await client.submit('echo', { value }));
  for (const _ of values) await workOne(db.redis, prefix, echo);
  for (const [index, task] of tasks.entries()) {
    assert.deepStrictEqual(await task.result({ timeout: 5000 }), values[index]);
  }
});

test('a failed task rejects with TaskFailedError carrying reason, exception and the task', async () => {
  const task = await client.submit('fail', {});
  await workOne(db.redis, prefix, () => ({ reason: 'ValueError: bad input', exception: 'Traceback ...' }));
  await assert.rejects(task.result({ timeout: 5000 }), (error) => {
    assert.ok(error instanceof doshit.TaskFailedError);
    assert.equal(error.message, 'ValueError: bad input');
    assert.equal(error.errorReason, 'ValueError: bad input');
    assert.equal(error.errorException, 'Traceback ...');
    assert.equal(error.task.id, task.id);
    assert.equal(error.task.result, 'failed');
    return true;
  });
  const info = await task.wait({ timeout: 1000 });
  assert.equal(info.errorReason, 'ValueError: bad input');
});

test('call() submits and awaits in one', async () => {
  const result = client.call('add', { a: 1, b: 2 }, { timeout: 5000 });
  await workOne(db.redis, prefix, (fn, args) => ({ value: args.a + args.b }));
  assert.equal(await result, 3);
});

test('a timeout rejects with TaskTimeoutError and leaves the task alone', async () => {
  const task = await client.submit('echo', { value: 1 });
  await assert.rejects(task.result({ timeout: 50 }), doshit.TaskTimeoutError);
  assert.equal((await client.getTask(task.id)).state, 'pending');
  await workOne(db.redis, prefix, echo);
  assert.equal(await task.result({ timeout: 5000 }), 1);
});

test('getTask decodes the whole hash: args, result-value, timestamps as Date', async () => {
  const when = doshit.DoshitDate.fromTimestamp('2026-01-02T03:04:05.000006Z');
  const task = await client.submit('echo', { value: { when, n: 1 } }, { username: 'gregc', resultTtl: 60 });
  await workOne(db.redis, prefix, echo);
  await task.result({ timeout: 5000 });
  const info = await client.getTask(task.id);
  assert.equal(info.id, task.id);
  assert.equal(info.function, 'echo');
  assert.equal(info.state, 'finished');
  assert.equal(info.result, 'successful');
  assert.deepStrictEqual(info.args, { value: { when, n: 1 } });
  assert.deepStrictEqual(info.resultValue, { when, n: 1 });
  for (const field of ['pendingCreated', 'executingCreated', 'finishedCreated']) assert.ok(info[field] instanceof Date, field);
  assert.ok(info.pendingCreated <= info.executingCreated && info.executingCreated <= info.finishedCreated);
  assert.equal(info.username, 'gregc');
  assert.equal(info.resultTtl, 60);
  assert.equal(info.schemaVersion, doshit.schema.schema_version);
  assert.equal(info.worker, 'node-test-worker');
  assert.equal(info.fields['result-value'], '{"when":{"type":"datetime","value":"2026-01-02T03:04:05.000006Z"},"n":1}');
  assert.deepStrictEqual(Object.keys(info.toObject()).sort(), ['id', ...Object.keys(info.fields).map(camel)].sort());
  await assert.rejects(client.getTask('no-such-task'), doshit.TaskNotFoundError);
  await assert.rejects(client.task('no-such-task').result({ timeout: 1000 }), doshit.TaskNotFoundError);
});

test('a field that does not decode names itself and hides nothing else', async () => {
  await db.redis.hSet(`${prefix}:task:bad`, { function: 'echo', state: 'finished', result: 'successful', 'result-value': 'not json', args: '{}' });
  const info = await client.getTask('bad');
  assert.deepStrictEqual(info.args, {});
  assert.throws(() => info.resultValue, /task bad: field result-value: not valid JSON/);
  await assert.rejects(client.task('bad').result(), doshit.DecodeError);
  const limits = new doshit.TaskInfo('x', { 'virtual-memory-limit': '9223372036854775807', 'result-ttl': '²' });
  assert.equal(limits.virtualMemoryLimit, 9223372036854775807n);
  assert.throws(() => limits.resultTtl, /field result-ttl: not a non-negative integer/);
});

test('a task id that exists is refused and nothing is written', async () => {
  await client.submit('echo', { value: 1 }, { taskId: 'mine' });
  await assert.rejects(client.submit('echo', { value: 2 }, { taskId: 'mine' }), doshit.TaskExistsError);
  assert.deepStrictEqual(await db.redis.lRange(`${prefix}:default:pending`, 0, -1), ['mine']);
  assert.equal(await db.redis.hGet(`${prefix}:task:mine`, 'args'), '{"value":1}');
});

test('bad input is refused before anything is written', async () => {
  await assert.rejects(client.submit('', {}), TypeError);
  await assert.rejects(client.submit('echo', [1, 2]), TypeError);
  await assert.rejects(client.submit('echo', { value: NaN }), doshit.EncodeError);
  await assert.rejects(client.submit('echo', { value: 2 ** 60 }), /pass a BigInt/);
  await assert.rejects(client.submit('echo', { value: new Map() }), doshit.EncodeError);
  await assert.rejects(client.submit('echo', { value: () => 1 }), doshit.EncodeError);
  const loop = {};
  loop.self = loop;
  await assert.rejects(client.submit('echo', { loop }), /refers to itself/);
  await assert.rejects(client.submit('echo', {}, { queue: 'has space' }), doshit.ConfigError);
  await assert.rejects(client.submit('echo', {}, { taskId: 'has space' }), RangeError);
  await assert.rejects(client.submit('echo', {}, { resultTTL: 5 }), /unknown option/);
  await assert.rejects(client.submit('echo', {}, { virtualMemoryLimit: 0 }), RangeError);
  assert.deepStrictEqual(await db.redis.keys(`${prefix}:*`), []);
});

test('another queue', async () => {
  const task = await client.submit('echo', { value: 'q' }, { queue: 'emails' });
  assert.equal(await db.redis.lLen(`${prefix}:default:pending`), 0);
  await workOne(db.redis, prefix, echo, { queue: 'emails' });
  assert.equal(await task.result({ timeout: 5000 }), 'q');
  assert.equal((await task.info()).queue, 'emails');
});

test('cancel: a pending task fails with the cancelled reason and leaves the queue', async () => {
  const task = await client.submit('echo', { value: 1 });
  const result = task.result({ timeout: 5000 });
  assert.equal(await task.cancel(), 'cancelled');
  await assert.rejects(result, (error) => error.errorReason === doshit.schema.error_reasons.cancelled);
  assert.equal(await db.redis.lLen(`${prefix}:default:pending`), 0);
  assert.equal(await client.cancel(task.id), 'finished');
  assert.equal(await client.cancel('no-such-task'), 'missing');
});

test('cancel: an executing task gets the kill command on the cmd channel', async () => {
  const heard = [];
  const listener = db.redis.duplicate();
  listener.on('error', () => {});
  await listener.connect();
  await listener.subscribe(`${prefix}:cmd`, (message) => heard.push(message));
  try {
    const task = await client.submit('echo', { value: 1 });
    const { Keys } = doshit;
    const keys = new Keys(prefix);
    await db.redis.sendCommand(['RPOPLPUSH', keys.pending('default'), keys.executing('default')]);
    await db.redis.hSet(task.key, { state: 'executing', worker: 'w' });
    assert.equal(await task.cancel(), 'killing');
    await waitFor(() => heard.length, 'the kill command');
    assert.deepStrictEqual(heard, [`task:kill:${prefix}:task:${task.id}`]);
    assert.equal(await client.killAll(), 1);
    await waitFor(() => heard.length === 2, 'kill all');
    assert.equal(heard[1], 'task:kill:all');
  } finally {
    await listener.close();
  }
});

test('one subscriber connection for many waiting tasks, and nothing kept after delivery', async () => {
  const tasks = [];
  for (let i = 0; i < 200; i += 1) tasks.push(await client.submit('echo', { value: i }));
  const results = Promise.all(tasks.map((task) => task.result({ timeout: 20_000 })));
  assert.equal(await clientConnections(), 2); // the command connection and the subscriber
  assert.equal(Number((await db.redis.sendCommand(['PUBSUB', 'NUMSUB', `${prefix}:results`]))[1]), 1);
  for (const _ of tasks) await workOne(db.redis, prefix, echo);
  assert.deepStrictEqual(await results, tasks.map((_, i) => i));
  assert.equal(client.watching, 0);
});

test('a lost subscriber connection reconnects and no result is missed', async () => {
  const errors = [];
  client.on('error', (error) => errors.push(error));
  const task = await client.submit('echo', { value: 'after the outage' });
  const result = task.result({ timeout: 15_000 });
  await sleep(20);
  await db.redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
  await workOne(db.redis, prefix, echo); // announced while the subscriber is down, or just after
  assert.equal(await result, 'after the outage');
  const next = await client.submit('echo', { value: 'and later' });
  await workOne(db.redis, prefix, echo);
  assert.equal(await next.result({ timeout: 15_000 }), 'and later');
  assert.equal(errors.length, 1, 'one error event for the outage');
});

test('close() rejects waits still running', async () => {
  const task = await client.submit('echo', { value: 1 });
  const result = task.result();
  await sleep(20);
  await client.close();
  await assert.rejects(result, /closed while waiting/);
  client = await doshit.createClient({ url: db.url, prefix }); // for afterEach
});

test('createClient rejects at once when nothing listens', async () => {
  const started = Date.now();
  await assert.rejects(doshit.createClient({ url: 'redis://127.0.0.1:1/0' }), /cannot connect to Redis at redis:\/\/127.0.0.1:1\/0/);
  assert.ok(Date.now() - started < 5000);
  await assert.rejects(doshit.createClient({ url: 'http://example' }), doshit.ConfigError);
  await assert.rejects(doshit.createClient({ url: db.url, colour: 'red' }), /unknown option/);
});

test('environment: DOSHIT_REDIS_URL, DOSHIT_APP_PREFIX, DOSHIT_QUEUE', async () => {
  const { resolve } = require('../lib/config');
  const settings = resolve({}, { DOSHIT_REDIS_URL: db.url, DOSHIT_APP_PREFIX: 'app', DOSHIT_QUEUE: 'q' });
  const { port } = new URL(db.url);
  assert.deepStrictEqual(settings.connection, { database: 0, socket: { host: '127.0.0.1', port: Number(port) } });
  assert.equal(settings.keys.prefix, 'app');
  assert.equal(settings.queue, 'q');
  const legacy = resolve({}, { DOSHIT_REDIS: '{"host": "127.0.0.1", "port": 6380, "db": 2, "password": "pw"}' });
  assert.deepStrictEqual(legacy.connection, { socket: { host: '127.0.0.1', port: 6380 }, database: 2, password: 'pw' });
  assert.equal(resolve({}, {}).describe, 'redis://127.0.0.1:6379/0');
  assert.equal(resolve({ url: 'redis://u:secret@h:1/0' }, {}).describe, 'redis://u:***@h:1/0');
  assert.deepStrictEqual(resolve({ url: 'unix:///tmp/r.sock?db=3' }, {}).connection, { socket: { path: '/tmp/r.sock' }, database: 3 });
  assert.deepStrictEqual(resolve({ url: 'unix://u:p%40ss@/tmp/r.sock' }, {}).connection, {
    username: 'u',
    password: 'p@ss',
    socket: { path: '/tmp/r.sock' },
  });
  assert.throws(() => resolve({}, { DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT: 'lots' }), doshit.ConfigError);
});

test('submitMany writes every task as submit would, in order, and each gets its result', async () => {
  const tasks = await client.submitMany('echo', [{ value: 1 }, { value: 'two' }, { value: [3] }], { retries: 2, meta: { m: 1 } });
  assert.equal(tasks.length, 3);
  assert.deepStrictEqual(await db.redis.lRange(`${prefix}:default:pending`, 0, -1), tasks.map((t) => t.id).reverse());
  const single = await client.submit('echo', { value: 1 }, { retries: 2, meta: { m: 1 } });
  const many = await db.redis.hGetAll(`${prefix}:task:${tasks[0].id}`);
  const one = await db.redis.hGetAll(`${prefix}:task:${single.id}`);
  assert.deepStrictEqual(Object.keys(many).sort(), Object.keys(one).sort());
  for (const field of Object.keys(one).filter((name) => name !== 'pending-created')) assert.equal(many[field], one[field], field);
  for (let i = 0; i < 4; i += 1) await workOne(db.redis, prefix, echo);
  assert.deepStrictEqual(await Promise.all(tasks.map((t) => t.result({ timeout: 5000 }))), [1, 'two', [3]]);
});

test('submitMany with a delay schedules them all; an empty list writes nothing', async () => {
  const tasks = await client.submitMany('echo', [{ value: 1 }, { value: 2 }], { delay: 30, queue: 'later' });
  const info = await client.getTask(tasks[1].id);
  assert.equal(info.state, 'scheduled');
  assert.equal(info.queue, 'later');
  assert.equal(await db.redis.zCard(`${prefix}:later:scheduled`), 2);
  assert.equal(await db.redis.exists(`${prefix}:later:pending`), 0);
  assert.deepStrictEqual(await client.submitMany('echo', []), []);
});

test('submitMany refuses bad input before anything is written', async () => {
  await assert.rejects(client.submitMany('echo', { value: 1 }), /array of argument objects/);
  await assert.rejects(client.submitMany('echo', [{ value: 1 }, [2]]), /task 1: args must be an object/);
  await assert.rejects(client.submitMany('echo', [{ value: 1 }, { value: NaN }]), doshit.EncodeError);
  await assert.rejects(client.submitMany('', [{}]), TypeError);
  await assert.rejects(client.submitMany('echo', [{}], { taskId: 'x' }), /unknown option/);
  await assert.rejects(client.submitMany('echo', [{}], { retries: -1 }), RangeError);
  const tooMany = Array.from({ length: doshit.schema.limits.submit_many_max + 1 }, () => ({}));
  await assert.rejects(client.submitMany('echo', tooMany), /at most 10000 tasks/);
  assert.deepStrictEqual(await db.redis.keys(`${prefix}:*`), []);
});
