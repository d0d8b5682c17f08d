'use strict';
// redis+sentinel:// URLs and the durable submit options, read as the Python side reads them (no
// server here: tests/test_sentinel.py runs this client against real sentinels, through a failover).

const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const doshit = require('..');
const { maskUrl, resolve } = require('../lib/config');
const { newPrefix, privateRedis } = require('./helpers');

const { ConfigError, TaskNotDurableError } = doshit;

describe('redis+sentinel:// URLs', () => {
  test('sentinels, service, database, the master and the sentinels users', () => {
    const settings = resolve(
      {
        url:
          'redis+sentinel://user:p%40ss@10.0.0.1,[::1]:26380,s3:5000/my-master/3?sentinel_password=s%26cret' +
          '&sentinel_username=watcher&socket_connect_timeout=1.5&durable_replicas=2&durable_timeout_ms=250',
      },
      {},
    );
    assert.deepStrictEqual(settings.sentinel, {
      name: 'my-master',
      sentinelRootNodes: [
        { host: '10.0.0.1', port: 26379 },
        { host: '::1', port: 26380 },
        { host: 's3', port: 5000 },
      ],
      sentinelClientOptions: { socket: { connectTimeout: 1500 }, username: 'watcher', password: 's&cret' },
    });
    assert.deepStrictEqual(settings.connection, {
      username: 'user',
      password: 'p@ss',
      database: 3,
      socket: { connectTimeout: 1500 },
    });
    assert.deepStrictEqual(settings.durability, { replicas: 2, timeoutMs: 250 });
    assert.equal(resolve({ url: 'redis+sentinel://h/m?db=5' }, {}).connection.database, 5); // ?db= wins, as in redis-py
    assert.deepStrictEqual(resolve({ url: 'redis://h/0?durable_replicas=1' }, {}).durability, { replicas: 1, timeoutMs: 1000 });
    assert.equal(resolve({ url: 'redis://h/0?durable_replicas=0' }, {}).durability, null);
    assert.equal(resolve({ url: 'redis://h/0' }, {}).sentinel, null);
  });

  test('passwords are masked, the sentinels one too', () => {
    assert.equal(
      maskUrl('redis+sentinel://u:secret@h1,h2/m?sentinel_password=other&db=1'),
      'redis+sentinel://u:***@h1,h2/m?sentinel_password=***&db=1',
    );
  });

  test('a URL that cannot be used is a one-line ConfigError, passwords masked', async () => {
    const cases = [
      ['redis+sentinel://u:secret@h1:26379', /needs the service \(master\) name/],
      ['redis+sentinel://u:secret@/m', /names its sentinels and the service/],
      ['redis+sentinel://u:secret@h1,,h2/m', /names a sentinel without a host/],
      ['redis+sentinel://u:secret@h1:0/m', /bad port/],
      ['redis+sentinel://u:secret@h1:x/m', /bad port/],
      ['redis+sentinel://u:secret@h1/m/zero', /database must be a number/],
      ['redis+sentinel://u:secret@h1/m/1/2', /path is \/service or \/service\/db/],
      ['redis+sentinel://u:secret@h1/m?ssl_ca_certs=/ca.pem', /ssl_ca_certs: not a parameter/],
      ['redis+sentinel://u:secret@h1/m?socket_timeout=0', /socket_timeout must be a number of seconds/],
      ['redis+sentinel://u:se@cret@h1/m', /percent-encode them/],
      ['redis+sentinel://u:secret@h1/m?durable_replicas=many', /durable_replicas must be a whole number/],
      ['redis://u:secret@h1/0?durable_timeout_ms=5', /durable_timeout_ms without durable_replicas/],
      ['redis://u:secret@h1/0?durable_replicas=1&durable_timeout_ms=0', /durable_timeout_ms must be/],
      ['sentinel://u:secret@h1/m', /redis\+sentinel:\/\//],
    ];
    for (const [url, expected] of cases) {
      await assert.rejects(doshit.createClient({ url }), (error) => {
        assert.ok(error instanceof ConfigError, `${url}: ${error}`);
        assert.match(error.message, expected);
        assert.ok(!error.message.includes('\n') && !error.message.includes('secret') && !error.message.includes('cret@'));
        return true;
      });
    }
  });

  describe('durable submits on a Redis without replicas', () => {
    const db = privateRedis();

    test('the task is written, the submit rejects with TaskNotDurableError; a taken id is still TaskExistsError', async () => {
      const prefix = newPrefix();
      const client = await doshit.createClient({ url: `${db.url}?durable_replicas=1&durable_timeout_ms=50`, prefix });
      try {
        await assert.rejects(client.submit('echo', { text: 'a' }, { taskId: 'one' }), (error) => {
          assert.ok(error instanceof TaskNotDurableError);
          assert.equal(error.taskId, 'one');
          assert.equal(error.acknowledged, 0);
          return true;
        });
        assert.equal(await db.redis.hGet(client.keys.task('one'), 'state'), 'pending');
        await assert.rejects(client.submit('echo', {}, { taskId: 'one' }), doshit.TaskExistsError);
        await assert.rejects(client.submitMany('echo', [{}, {}]), /the tasks were written to the master, but 0 of the 1/);
      } finally {
        await client.close();
      }
    });
  });

  test('TaskNotDurableError says which task and how many replicas had it', () => {
    const error = new TaskNotDurableError('t1', 1, { replicas: 2, timeoutMs: 100 });
    assert.equal(error.name, 'TaskNotDurableError');
    assert.equal(error.taskId, 't1');
    assert.equal(error.acknowledged, 1);
    assert.match(error.message, /1 of the 2 replica\(s\) asked for had it after 100 ms/);
  });
});
