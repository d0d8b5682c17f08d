'use strict';
// The legacy 1.1.2 API: require('doshit')(url, prefix, queue), callbacks and events.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { test } = require('node:test');
const doshit = require('..');
const { privateRedis, newPrefix, workOne } = require('./helpers');

const db = privateRedis();

function called() {
  let done;
  const promise = new Promise((resolve) => {
    done = (...args) => resolve(args);
  });
  return { promise, done };
}

const echo = (fn, args) => ({ value: args.text });

test('task(): an id at once, then cb(null, value, task) and a success event', async () => {
  const prefix = newPrefix();
  const legacy = doshit(db.url, prefix, 'default');
  assert.ok(legacy instanceof doshit.LegacyClient);
  const events = [];
  legacy.on('success', (...args) => events.push(['success', ...args]));
  const cb = called();
  const id = legacy.task('echo', { text: 'ooh yeeah' }, cb.done);
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal(await workOne(db.redis, prefix, echo), id);
  const [err, value, task] = await cb.promise;
  assert.equal(err, null);
  assert.equal(value, 'ooh yeeah');
  assert.equal(task.function, 'echo');
  assert.equal(task.state, 'finished');
  assert.equal(task.result, 'successful');
  assert.deepStrictEqual(task.args, { text: 'ooh yeeah' });
  assert.equal(task['result-value'], 'ooh yeeah');
  assert.ok(task['pending-created'] instanceof Date);
  assert.ok(task['finished-created'] instanceof Date);
  assert.deepStrictEqual(events, [['success', 'ooh yeeah', task, id]]);
  await legacy.quit();
});

test('a failed task: cb(error-exception, null, task) and a failure event', async () => {
  const prefix = newPrefix();
  const legacy = doshit(db.url, prefix);
  const failures = [];
  legacy.on('failure', (error, task, id) => failures.push(id));
  const cb = called();
  const id = legacy.task('fail', {}, cb.done);
  await workOne(db.redis, prefix, () => ({ reason: 'ValueError: no', exception: 'Traceback: no' }));
  const [err, value, task] = await cb.promise;
  assert.equal(err, 'Traceback: no');
  assert.equal(value, null);
  assert.equal(task['error-reason'], 'ValueError: no');
  assert.deepStrictEqual(failures, [id]);
  // without an error-exception the task itself is the error, never an empty string
  const second = called();
  legacy.task('fail', {}, second.done);
  await workOne(db.redis, prefix, () => ({ reason: 'task was pubsub killed', exception: '' }));
  const [err2] = await second.promise;
  assert.equal(err2['error-reason'], 'task was pubsub killed');
  await legacy.quit();
});

test('taskwithid() and gettask()', async () => {
  const prefix = newPrefix();
  const legacy = doshit(db.url, prefix);
  const cb = called();
  assert.equal(legacy.taskwithid('my-id', 'echo', { text: 'x' }, cb.done), 'my-id');
  await workOne(db.redis, prefix, echo);
  await cb.promise;
  const got = called();
  legacy.gettask('my-id', got.done);
  const [err, task] = await got.promise;
  assert.equal(err, null);
  assert.equal(task['result-value'], 'x');
  const missing = called();
  legacy.gettask('nope', missing.done);
  assert.deepStrictEqual(await missing.promise, [null, null]);
  // the id is taken now: the callback gets the error
  const again = called();
  legacy.taskwithid('my-id', 'echo', { text: 'y' }, again.done);
  const [taken] = await again.promise;
  assert.ok(taken instanceof doshit.TaskExistsError);
  legacy.end();
});

test('bad arguments throw at once; end() fails the callbacks still waiting', async () => {
  const prefix = newPrefix();
  const legacy = doshit(db.url, prefix);
  assert.throws(() => legacy.task('echo', { x: NaN }, () => {}), doshit.EncodeError);
  assert.throws(() => legacy.task('', {}, () => {}), TypeError);
  const cb = called();
  legacy.task('echo', { text: 'never' }, cb.done);
  legacy.end();
  const [err] = await cb.promise;
  assert.match(err.message, /ended before the task finished/);
});

test('a wrong address reaches the error event', async () => {
  const legacy = doshit('redis://127.0.0.1:1/0', newPrefix());
  const error = await new Promise((resolve) => legacy.on('error', resolve));
  assert.match(error.message, /cannot connect to Redis/);
});

test('gettask on a hash that does not decode calls back with the DecodeError', async () => {
  const prefix = newPrefix();
  const key = (id) => `${prefix}:task:${id}`;
  await db.redis.hSet(key('open-brace'), { function: 'echo', state: 'pending', args: '{' });
  await db.redis.hSet(key('bad-time'), { function: 'echo', state: 'pending', args: '{}', 'pending-created': 'yesterday' });
  await db.redis.hSet(key('bytes'), { function: 'echo', state: 'pending', args: '{}', username: Buffer.from([0xff]) });
  await db.redis.hSet(key('huge'), { state: 'finished', result: 'successful', 'result-value': '[1e999999]' });
  await db.redis.lPush(key('listy'), 'x');
  const legacy = doshit(db.url, prefix);
  const expected = {
    'open-brace': /field args: not valid JSON/,
    'bad-time': /field pending-created: not a doshit timestamp/,
    bytes: /field username: not valid UTF-8/,
    huge: /field result-value: .*beyond a double's range/,
    listy: /is not a hash/,
  };
  for (const [id, message] of Object.entries(expected)) {
    const got = called();
    legacy.gettask(id, got.done);
    const [err, task] = await got.promise;
    assert.ok(err instanceof doshit.DecodeError, id);
    assert.match(err.message, message);
    assert.equal(task, null);
  }
  await legacy.quit();
});

test('a finished task that does not decode reaches the callback and the error event', async () => {
  const prefix = newPrefix();
  const legacy = doshit(db.url, prefix);
  const errors = [];
  legacy.on('error', (error) => errors.push(error));
  const cb = called();
  legacy.task('echo', { text: 'x' }, cb.done);
  await workOne(db.redis, prefix, () => ({ fields: { result: 'successful', 'result-value': '{' } }));
  const [err, value, task] = await cb.promise;
  assert.ok(err instanceof doshit.DecodeError);
  assert.match(err.message, /field result-value/);
  assert.equal(value, null);
  assert.equal(task, null);
  assert.deepStrictEqual(errors, [err]);
  await legacy.quit();
});

/** Run a script with the legacy client in a child node process; resolves with { code, lines }. */
function inChild(script, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], {
      cwd: path.resolve(__dirname, '..'),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, lines: out.trim().split('\n'), stderr: err }));
  });
}

test('in a process of its own: no unhandled rejection, and a throwing callback is its own uncaught exception', async () => {
  const prefix = newPrefix();
  await db.redis.hSet(`${prefix}:task:bad`, { function: 'echo', state: 'pending', args: '{' });
  const script = `
    process.on('unhandledRejection', (error) => { console.log('unhandled ' + error.message); process.exit(3); });
    process.on('uncaughtException', (error) => console.log('uncaught ' + error.message));
    const legacy = require('.')(process.env.URL, process.env.PREFIX);
    legacy.gettask('bad', (err, task) => {
      console.log('callback ' + err.name + ' ' + (task === null));
      legacy.gettask('bad', () => { throw new Error('boom'); });
      setTimeout(() => legacy.quit().then(() => console.log('done')), 200);
    });
  `;
  const { code, lines, stderr } = await inChild(script, { URL: db.url, PREFIX: prefix });
  assert.equal(code, 0, stderr);
  assert.deepStrictEqual(lines, ['callback DecodeError true', 'uncaught boom', 'done']);
});
