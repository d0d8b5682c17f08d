'use strict';
// Delayed and timed submits, retries and time limits, cancel of scheduled tasks and of a dead
// worker's task, and requeue of failed tasks, against a real Redis (the worker is the schema's own
// claim and finish scripts; tests/test_node.py runs the Python worker).

const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const doshit = require('..');
const { MAX_RETRIES, MAX_TIMEOUT } = require('../lib/protocol');
const { clientPerTest, privateRedis, waitFor, workOne } = require('./helpers');

const { DoshitDate, Keys, schema } = doshit;
const db = privateRedis();
let prefix;
let client;
let keys;

clientPerTest(db, {
  made: (fresh) => {
    ({ prefix, client } = fresh);
    keys = new Keys(prefix);
  },
  current: () => client,
});

async function nothingWritten() {
  assert.deepStrictEqual(await db.redis.keys(`${prefix}:*`), []);
}

/** The score of `id` in a sorted set, as a Number (null when it is not a member). */
async function score(key, id) {
  const value = await db.redis.zScore(key, id);
  return value === null ? null : Number(value);
}

/** Listen on the prefix's cmd channel while `body(heard)` runs. */
async function listening(body) {
  const heard = [];
  const listener = db.redis.duplicate();
  listener.on('error', () => {});
  await listener.connect();
  await listener.subscribe(keys.cmd, (message) => heard.push(message));
  try {
    return await body(heard);
  } finally {
    await listener.close();
  }
}

/** Make the task look taken by worker `workerId` (popped onto executing, the claim's fields). */
async function executing(task, workerId, queue = 'default') {
  await db.redis.sendCommand(['RPOPLPUSH', keys.pending(queue), keys.executing(queue)]);
  await db.redis.hSet(task.key, { state: 'executing', worker: workerId, attempt: '1' });
}

describe('keys', () => {
  test('scheduled, failed, recovery and the scheduled command follow the schema', () => {
    assert.equal(keys.scheduled('emails'), `${prefix}:emails:scheduled`);
    assert.equal(keys.failed('emails'), `${prefix}:emails:failed`);
    assert.equal(keys.recovery('emails'), `${prefix}:emails:recovery`);
    assert.equal(keys.scheduledCommand('emails'), 'task:scheduled:emails');
    for (const method of ['scheduled', 'failed', 'recovery', 'scheduledCommand']) {
      assert.throws(() => keys[method]('has space'), doshit.ConfigError, method);
      assert.throws(() => keys[method]('task'), doshit.ConfigError, method);
    }
  });
});

describe('delay and at', () => {
  test('a delayed task waits in the scheduled set, due delay seconds from now, and is not pending', async () => {
    const before = Date.now();
    const task = await listening(async (heard) => {
      const submitted = await client.submit('echo', { value: 1 }, { delay: 60, retries: 2, timeout: 30 });
      await waitFor(() => heard.length, 'the scheduled command');
      assert.deepStrictEqual(heard, ['task:scheduled:default']);
      return submitted;
    });
    const after = Date.now();
    const due = await score(keys.scheduled('default'), task.id);
    assert.ok(due >= before + 60_000 && due <= after + 60_000, `${before} ${due} ${after}`);
    assert.equal(await db.redis.lLen(keys.pending('default')), 0);
    const written = await db.redis.hGetAll(task.key);
    assert.equal(written.state, 'scheduled');
    assert.equal(written.retries, '2');
    assert.equal(written.timeout, '30');
    assert.match(written['scheduled-for'], new RegExp(schema.timestamp.regex));
    assert.equal(DoshitDate.fromTimestamp(written['scheduled-for']).getTime(), due);
    const info = await task.info();
    assert.equal(info.state, 'scheduled');
    assert.equal(info.scheduledFor.getTime(), due);
    assert.equal(await task.poll(), false);
    await assert.rejects(task.result({ timeout: 50 }), doshit.TaskTimeoutError);
  });

  test('a task given at is scheduled for that moment, to the microsecond', async () => {
    const at = DoshitDate.fromTimestamp('2100-01-02T03:04:05.123456Z');
    const task = await client.submit('echo', { value: 1 }, { at, queue: 'emails' });
    assert.equal(await score(keys.scheduled('emails'), task.id), at.getTime());
    assert.equal(await db.redis.lLen(keys.pending('emails')), 0);
    assert.equal(await db.redis.exists(keys.scheduled('default')), 0);
    const written = await db.redis.hGetAll(task.key);
    assert.equal(written.state, 'scheduled');
    assert.equal(written['scheduled-for'], '2100-01-02T03:04:05.123456Z');
    assert.equal(written.queue, 'emails');
    const plain = await client.submit('echo', {}, { at: new Date(Date.UTC(2000, 0, 1)) }); // in the past: due at once
    assert.equal(await score(keys.scheduled('default'), plain.id), Date.UTC(2000, 0, 1));
    assert.equal(await db.redis.hGet(plain.key, 'scheduled-for'), '2000-01-01T00:00:00.000000Z');
  });

  test('a delay of 0 schedules it now; without delay or at it is pending with no scheduled-for', async () => {
    const before = Date.now();
    const now = await client.submit('echo', {}, { delay: 0 });
    const due = await score(keys.scheduled('default'), now.id);
    assert.ok(due >= before && due <= Date.now());
    const plain = await client.submit('echo', {}, { delay: null, at: undefined });
    assert.deepStrictEqual(await db.redis.lRange(keys.pending('default'), 0, -1), [plain.id]);
    const written = await db.redis.hGetAll(plain.key);
    assert.equal(written.state, 'pending');
    assert.equal(written['scheduled-for'], undefined);
    assert.equal(written.retries, undefined);
    assert.equal(written.timeout, undefined);
  });

  test('delay and at together are a TypeError; bad ones are refused; nothing is written', async () => {
    await assert.rejects(client.submit('echo', {}, { delay: 1, at: new Date() }), (error) => error instanceof TypeError && /not both/.test(error.message));
    for (const delay of [-1, 1e9, NaN, Infinity, '5', 5n]) {
      await assert.rejects(client.submit('echo', {}, { delay }), RangeError, String(delay));
    }
    for (const at of ['2100-01-01T00:00:00Z', Date.now(), {}]) {
      await assert.rejects(client.submit('echo', {}, { at }), TypeError, String(at));
    }
    for (const at of [new Date(NaN), new Date(Date.UTC(10000, 0, 1)), new Date(Date.UTC(-1, 0, 1))]) {
      await assert.rejects(client.submit('echo', {}, { at }), RangeError, String(at));
    }
    await nothingWritten();
  });
});

describe('retries and timeout', () => {
  test('whole numbers in range are written, and reach the worker in the claim reply', async () => {
    for (const [retries, timeout] of [[0, 1], [MAX_RETRIES, MAX_TIMEOUT], [3n, 60n]]) {
      const task = await client.submit('echo', { value: 1 }, { retries, timeout });
      const written = await db.redis.hGetAll(task.key);
      assert.equal(written.retries, String(retries));
      assert.equal(written.timeout, String(timeout));
      let claimed;
      await workOne(db.redis, prefix, (fn, args, reply) => {
        claimed = reply;
        return { value: args.value };
      });
      assert.equal(claimed.retries, String(retries));
      assert.equal(claimed.timeout, String(timeout));
      assert.equal(claimed.attempt, 1);
      assert.equal(await task.result({ timeout: 5000 }), 1);
      assert.equal((await task.info()).attempt, 1);
    }
  });

  test('anything else is refused with a RangeError before anything is written', async () => {
    for (const retries of [-1, 1.5, MAX_RETRIES + 1, NaN, '2', 2 ** 60]) {
      await assert.rejects(
        client.submit('echo', {}, { retries }),
        (error) => error instanceof RangeError && error.message.startsWith(`retries must be a whole number from 0 to ${MAX_RETRIES}`),
        String(retries),
      );
    }
    for (const timeout of [0, -1, 0.5, MAX_TIMEOUT + 1, NaN, '30']) {
      await assert.rejects(
        client.submit('echo', {}, { timeout, delay: 5 }),
        (error) => error instanceof RangeError && error.message.startsWith(`timeout must be a whole number from 1 to ${MAX_TIMEOUT}`),
        String(timeout),
      );
    }
    await nothingWritten();
  });

  test('call() keeps timeout for its wait (milliseconds), not the task time limit', async () => {
    const result = client.call('echo', { value: 'c' }, { timeout: 5000, retries: 1 });
    await workOne(db.redis, prefix, (fn, args) => ({ value: args.value }));
    assert.equal(await result, 'c');
    const [id] = await db.redis.keys(`${prefix}:task:*`);
    const written = await db.redis.hGetAll(id);
    assert.equal(written.retries, '1');
    assert.equal(written.timeout, undefined);
  });
});

describe('cancel', () => {
  test('a scheduled task is cancelled: off the scheduled set, finished failed, in the failed index', async () => {
    const task = await client.submit('echo', {}, { delay: 60 });
    const result = assert.rejects(task.result({ timeout: 5000 }), (error) => error.errorReason === schema.error_reasons.cancelled);
    const before = Date.now();
    assert.equal(await task.cancel(), 'cancelled');
    await result;
    assert.equal(await score(keys.scheduled('default'), task.id), null);
    const failedAt = await score(keys.failed('default'), task.id);
    assert.ok(failedAt >= before && failedAt <= Date.now());
    const info = await client.getTask(task.id);
    assert.equal(info.state, 'finished');
    assert.equal(info.result, 'failed');
    assert.equal(await client.cancel(task.id), 'finished');
  });

  test('client.cancel reads the queue of a scheduled task from its hash', async () => {
    const task = await client.submit('echo', {}, { delay: 60, queue: 'emails' });
    assert.equal(await client.cancel(task.id), 'cancelled');
    assert.equal(await db.redis.zCard(keys.scheduled('emails')), 0);
    assert.notEqual(await score(keys.failed('emails'), task.id), null);
  });

  test('an executing task whose worker is gone, as a recovery round found it, is cancelled at once', async () => {
    const task = await client.submit('echo', {});
    await executing(task, 'dead-worker');
    await db.redis.hSet(task.key, 'orphan-since', String(Date.now() - 1000));
    const reason = schema.error_reasons.cancelled_orphan.replace('{worker}', 'dead-worker');
    const result = assert.rejects(task.result({ timeout: 5000 }), (error) => error.errorReason === reason);
    await listening(async (heard) => {
      assert.equal(await task.cancel(), 'cancelled');
      // the kill command goes out too, in case that worker lives after all
      await waitFor(() => heard.length, 'the kill command');
      assert.deepStrictEqual(heard, [keys.kill(task.id)]);
    });
    await result;
    assert.notEqual(await score(keys.failed('default'), task.id), null);
    assert.equal((await task.info()).orphanSince, null);
  });

  test('an executing task whose worker hash is absent but not yet found dead gets the kill mark', async () => {
    const task = await client.submit('echo', {});
    await executing(task, 'quiet-worker');
    assert.equal(await task.cancel(), 'killing');
    const info = await task.info();
    assert.equal(info.state, 'executing');
    assert.ok(info.killRequested instanceof Date);
  });

  test('an executing task whose worker hash exists gets the kill command, even if marked', async () => {
    const task = await client.submit('echo', {});
    await executing(task, 'live-worker');
    await db.redis.hSet(task.key, 'orphan-since', String(Date.now() - 1000));
    await db.redis.hSet(keys.worker('live-worker'), { hostname: 'here' });
    await listening(async (heard) => {
      assert.equal(await client.cancel(task.id), 'killing');
      await waitFor(() => heard.length, 'the kill command');
      assert.deepStrictEqual(heard, [keys.kill(task.id)]);
    });
    assert.equal((await task.info()).state, 'executing');
    assert.equal(await score(keys.failed('default'), task.id), null);
  });
});

describe('requeue', () => {
  test('a failed task goes back on pending, off the failed index, its failure kept in errors', async () => {
    const task = await client.submit('fail', { value: 1 }, { resultTtl: 600 });
    await workOne(db.redis, prefix, () => ({ reason: 'ValueError: bad', exception: 'Traceback ...' }));
    await assert.rejects(task.result({ timeout: 5000 }), doshit.TaskFailedError);
    assert.notEqual(await score(keys.failed('default'), task.id), null);
    assert.ok((await db.redis.ttl(task.key)) > 0);
    const failed = await task.info();

    assert.equal(await task.requeue(), 'requeued');
    assert.deepStrictEqual(await db.redis.lRange(keys.pending('default'), 0, -1), [task.id]);
    assert.equal(await score(keys.failed('default'), task.id), null);
    assert.equal(await db.redis.ttl(task.key), -1);
    const info = await task.info();
    assert.equal(info.state, 'pending');
    for (const field of ['result', 'errorReason', 'errorException', 'finishedCreated', 'worker', 'attempt']) {
      assert.equal(info[field], null, field);
    }
    assert.equal(info.errors.length, 1);
    assert.deepStrictEqual(
      { attempt: info.errors[0].attempt, reason: info.errors[0].reason, at: info.errors[0].at },
      { attempt: 1, reason: 'ValueError: bad', at: failed.fields['finished-created'] },
    );

    // it runs again, and its result is delivered
    const again = task.result({ timeout: 5000 });
    await workOne(db.redis, prefix, (fn, args) => ({ value: args.value + 1 }));
    assert.equal(await again, 2);
  });

  test('a task that is not failed keeps its state; a missing one says missing', async () => {
    const task = await client.submit('echo', { value: 1 });
    assert.equal(await client.requeue(task.id), 'not_failed');
    assert.equal((await task.info()).state, 'pending');
    assert.deepStrictEqual(await db.redis.lRange(keys.pending('default'), 0, -1), [task.id]);
    await workOne(db.redis, prefix, (fn, args) => ({ value: args.value }));
    assert.equal(await task.result({ timeout: 5000 }), 1);
    assert.equal(await task.requeue(), 'not_failed');
    assert.equal((await task.info()).state, 'finished');
    assert.equal(await db.redis.lLen(keys.pending('default')), 0);
    const scheduled = await client.submit('echo', {}, { delay: 60 });
    assert.equal(await scheduled.requeue(), 'not_failed');
    assert.equal(await client.requeue('no-such-task'), 'missing');
  });

  test('a task of another queue goes back on its own queue; a cancelled one can be requeued', async () => {
    const task = await client.submit('echo', { value: 1 }, { queue: 'emails', delay: 60 });
    assert.equal(await client.cancel(task.id), 'cancelled');
    assert.equal(await client.requeue(task.id), 'requeued');
    assert.deepStrictEqual(await db.redis.lRange(keys.pending('emails'), 0, -1), [task.id]);
    assert.equal(await db.redis.zCard(keys.failed('emails')), 0);
    assert.equal((await task.info()).errors[0].reason, schema.error_reasons.cancelled);
  });

  test('a bad id is a RangeError; a key that is not a hash says missing and is left alone', async () => {
    await assert.rejects(client.requeue('a b'), RangeError);
    await db.redis.lPush(`${prefix}:task:listy`, 'x');
    assert.equal(await client.requeue('listy'), 'missing');
    assert.deepStrictEqual(await db.redis.lRange(`${prefix}:task:listy`, 0, -1), ['x']);
  });
});

describe('meta and progress', () => {
  test('meta is written as a JSON object and read back; progress is read from the hash', async () => {
    const task = await client.submit('echo', { value: 1 }, { meta: { traceparent: '00-abc-def-01', n: 7 } });
    const written = await db.redis.hGetAll(task.key);
    assert.equal(written.meta, '{"traceparent":"00-abc-def-01","n":7}');
    await db.redis.hSet(task.key, 'progress', '{"done":3,"of":10}');
    const info = await task.info();
    assert.deepStrictEqual(info.meta, { traceparent: '00-abc-def-01', n: 7 });
    assert.deepStrictEqual(info.progress, { done: 3, of: 10 });
    const plain = await client.submit('echo', { value: 1 });
    assert.equal((await db.redis.hGetAll(plain.key)).meta, undefined);
  });

  test('meta that is not an object of JSON values is refused before anything is written', async () => {
    for (const meta of [[1, 2], 'text', 5, new Date()]) {
      await assert.rejects(client.submit('echo', {}, { meta }), TypeError, String(meta));
    }
    await assert.rejects(client.submit('echo', {}, { meta: { bad: NaN } }), doshit.EncodeError);
    await nothingWritten();
  });
});
