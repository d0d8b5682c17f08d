'use strict';
// redis+cluster:// URLs read as the Python side reads them, the Redis Cluster key layout (schema.json's
// `cluster`), and what stays as it was without a cluster. No server here: test/cluster-live.test.js
// runs the client on a real cluster, and tests/test_cluster.py runs it there with Python workers.

const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const doshit = require('..');
const { maskUrl, resolve } = require('../lib/config');
const { routingKey } = require('../lib/connection');

const { ConfigError, Keys, schema } = doshit;

describe('redis+cluster:// URLs', () => {
  test('nodes, default port, user and password, timeouts and durability', () => {
    const settings = resolve(
      {
        url:
          'redis+cluster://app:p%40ss@10.0.0.1,[::1]:7001,node3:7002/?socket_timeout=2.5' +
          '&socket_connect_timeout=1.5&durable_replicas=1&durable_timeout_ms=250',
        prefix: 'app',
        queue: 'mail',
      },
      {},
    );
    assert.deepStrictEqual(settings.cluster, {
      rootNodes: [
        { socket: { host: '10.0.0.1', port: schema.cluster.default_port } },
        { socket: { host: '::1', port: 7001 } },
        { socket: { host: 'node3', port: 7002 } },
      ],
    });
    // every node's connection: no host, port nor database of its own
    const connection = { username: 'app', password: 'p@ss', socket: { connectTimeout: 1500 } };
    assert.deepStrictEqual(settings.connection, connection);
    assert.deepStrictEqual(settings.durability, { replicas: 1, timeoutMs: 250 });
    assert.equal(settings.sentinel, null);
    assert.match(settings.describe, /^redis\+cluster:\/\/app:\*\*\*@10\.0\.0\.1,\[::1\]:7001,node3:7002\/\?socket_timeout=2\.5&/);
    assert.ok(settings.keys.cluster);
    assert.equal(settings.keys.pending('mail'), 'app:{mail}:pending');
  });

  test('no path, / and /0 are the one database; the redis option goes to every node', () => {
    for (const tail of ['', '/', '/0', '?durable_replicas=0']) {
      const settings = resolve({ url: `redis+cluster://h${tail}` }, {});
      assert.deepStrictEqual(settings.cluster.rootNodes, [{ socket: { host: 'h', port: 6379 } }], tail);
      assert.equal(settings.durability, null);
    }
    const redis = { name: 'app', socket: { keepAlive: true } };
    const given = resolve({ url: 'redis+cluster://h1:7000,h2', redis }, {});
    assert.deepStrictEqual(given.connection, { name: 'app', socket: { keepAlive: true } });
    // DOSHIT_REDIS_URL reads the same
    assert.ok(resolve({}, { DOSHIT_REDIS_URL: 'redis+cluster://h' }).keys.cluster);
  });

  test('passwords are masked', () => {
    assert.equal(maskUrl('redis+cluster://u:secret@h1,h2:7001/'), 'redis+cluster://u:***@h1,h2:7001/');
    assert.equal(maskUrl('redis+cluster://u:p@ss/w@h1,h2'), 'redis+cluster://u:***@h1,h2');
  });

  test('a URL that cannot be used is a one-line ConfigError, password masked', async () => {
    const cases = [
      ['redis+cluster://', /names one node or more: redis\+cluster:\/\/host1:6379,host2:6379/],
      ['redis+cluster://u:secret@', /names one node or more/],
      ['redis+cluster://u:secret@h1/1', /has no path \(a cluster has one database, 0\)/],
      ['redis+cluster://u:secret@h1/0/', /has no path/],
      ['redis+cluster://u:secret@h1//', /has no path/],
      ['redis+cluster://u:secret@h1/my-master', /has no path/],
      ['redis+cluster://u:secret@h1?db=2', /db: not a parameter of a redis\+cluster:\/\/ URL \(it takes socket_time/],
      ['redis+cluster://u:secret@h1?ssl_ca_certs=/ca.pem', /ssl_ca_certs: not a parameter/],
      ['redis+cluster://u:secret@h1?sentinel_password=x', /sentinel_password: not a parameter/],
      ['redis+cluster://u:secret@h1:0', /bad port "0" \(a number from 1 to 65535\)/],
      ['redis+cluster://u:secret@h1:70000', /bad port/],
      ['redis+cluster://u:secret@h1:x', /bad port/],
      ['redis+cluster://u:secret@:7000', /names no host/],
      ['redis+cluster://u:secret@h1,,h2', /names a node without a host/],
      ['redis+cluster://u:secret@h1,', /names a node without a host/],
      ['redis+cluster://u:sec@ret@h1', /percent-encode them/],
      ['redis+cluster://u:secret@h1?socket_timeout=0', /socket_timeout must be a number of seconds above 0/],
      ['redis+cluster://u:secret@h1?socket_connect_timeout=soon', /socket_connect_timeout must be a number/],
      ['redis+cluster://u:secret@h1?durable_replicas=many', /durable_replicas must be a whole number/],
      ['redis+cluster://u:secret@h1?durable_timeout_ms=5', /durable_timeout_ms without durable_replicas/],
      ['cluster://u:secret@h1', /redis\+cluster:\/\//],
    ];
    for (const [url, expected] of cases) {
      await assert.rejects(doshit.createClient({ url }), (error) => {
        assert.ok(error instanceof ConfigError, `${url}: ${error}`);
        assert.match(error.message, expected, url);
        assert.ok(!/\n|secret|ret@/.test(error.message), error.message);
        return true;
      });
    }
  });
});

describe('the cluster key layout', () => {
  const keys = new Keys('doshit', { cluster: true });
  const id = '{default}:0b1c2d3e-0000-4000-8000-000000000000';

  test('a queue\'s keys carry the queue as hash tag, the prefix-wide ones the prefix; the rest is as it was', () => {
    assert.equal(keys.pending('default'), 'doshit:{default}:pending');
    assert.equal(keys.executing('default'), 'doshit:{default}:executing');
    assert.equal(keys.scheduled('default'), 'doshit:{default}:scheduled');
    assert.equal(keys.failed('default'), 'doshit:{default}:failed');
    assert.equal(keys.recovery('default'), 'doshit:{default}:recovery');
    assert.equal(keys.worker('w1'), '{doshit}:worker:w1');
    assert.equal(keys.task(id), `doshit:task:${id}`);
    assert.equal(keys.taskId(`doshit:task:${id}`), id);
    assert.equal(keys.results, 'doshit:results');
    assert.equal(keys.cmd, 'doshit:cmd');
    assert.equal(keys.kill(id), `task:kill:doshit:task:${id}`);
    assert.equal(keys.killAll, 'task:kill:all');
    assert.equal(keys.scheduledCommand('default'), 'task:scheduled:default');
  });

  test('exactly the keys schema.cluster names are tagged, with the queue or the prefix', () => {
    const rendered = {
      pending: (k) => k.pending('q'),
      executing: (k) => k.executing('q'),
      scheduled: (k) => k.scheduled('q'),
      failed: (k) => k.failed('q'),
      recovery: (k) => k.recovery('q'),
      worker: (k) => k.worker('w'),
    };
    const plain = new Keys('p');
    const cluster = new Keys('p', { cluster: true });
    for (const [kind, render] of Object.entries(rendered)) {
      const untagged = render(plain);
      if (schema.cluster.queue_tagged.includes(kind)) assert.equal(render(cluster), untagged.replace(':q:', ':{q}:'));
      else if (schema.cluster.prefix_tagged.includes(kind)) assert.equal(render(cluster), untagged.replace(/^p:/, '{p}:'));
      else assert.fail(`${kind} is in neither list of schema.cluster`);
    }
  });

  test('an id is tagged with its queue once: generated, chosen, or chosen with the tag already', () => {
    assert.equal(keys.idTag('emails'), '{emails}:');
    assert.equal(keys.taskIdFor('emails', 'report:2026-11-22'), '{emails}:report:2026-11-22');
    assert.equal(keys.taskIdFor('emails', '{emails}:report:2026-11-22'), '{emails}:report:2026-11-22');
    assert.equal(keys.taskIdFor('emails', '{default}:x'), '{emails}:{default}:x'); // another queue's tag is just text
    assert.equal(keys.taskIdFor('emails', '{emails}x'), '{emails}:{emails}x');
    assert.throws(() => keys.taskIdFor('emails', 'has space'), RangeError);
    assert.throws(() => keys.taskIdFor('emails', 'x'.repeat(256)), RangeError); // 256 with the tag is too long
    assert.throws(() => keys.taskIdFor('a:b', 'x'), ConfigError);
    assert.throws(() => keys.taskIdFor('task', 'x'), ConfigError); // a reserved queue
  });

  test('the queue an id\'s tag names', () => {
    assert.equal(keys.queueOfId('{emails}:x'), 'emails');
    assert.equal(keys.queueOfId('{emails}:'), 'emails');
    for (const other of ['emails:x', '{emails}x', '{}:x', '{a}b}:x', '{task}:x', '{a b}:x', 'x{emails}:y']) {
      assert.equal(keys.queueOfId(other), null, other);
    }
  });

  test('the keys of one submit and one cancel route to one slot', () => {
    const slotOf = (key) => (/\{([^}]+)\}/.exec(key) ?? [null, key])[1];
    const taskId = keys.taskIdFor('emails', 'a1');
    const submitKeys = [keys.task(taskId), keys.pending('emails'), keys.scheduled('emails')];
    const slots = new Set([...submitKeys, keys.failed('emails')].map(slotOf));
    assert.deepStrictEqual([...slots], ['emails']);
  });
});

describe('without a cluster nothing changes', () => {
  test('keys and ids are the classic ones', () => {
    const made = [new Keys('doshit'), new Keys('doshit', { cluster: false }), resolve({ url: 'redis://h/0' }, {}).keys];
    for (const keys of made) {
      assert.equal(keys.cluster, false);
      assert.equal(keys.pending('default'), 'doshit:default:pending');
      assert.equal(keys.executing('default'), 'doshit:default:executing');
      assert.equal(keys.scheduled('default'), 'doshit:default:scheduled');
      assert.equal(keys.failed('default'), 'doshit:default:failed');
      assert.equal(keys.recovery('default'), 'doshit:default:recovery');
      assert.equal(keys.worker('w1'), 'doshit:worker:w1');
      assert.equal(keys.task('abc'), 'doshit:task:abc');
      assert.equal(keys.idTag('default'), '');
      assert.equal(keys.taskIdFor('default', 'abc'), 'abc');
      assert.equal(keys.taskIdFor('default', '{default}:abc'), '{default}:abc');
      assert.throws(() => keys.taskIdFor('default', ''), RangeError);
    }
    for (const url of ['redis://h/0', 'redis+sentinel://h/m', 'unix:///tmp/r.sock']) {
      assert.equal(resolve({ url }, {}).cluster, null, url);
    }
  });
});

describe('cluster commands', () => {
  test('each command routes by the key a cluster must send it for', () => {
    assert.equal(routingKey(['EVALSHA', 'abc', '3', 'k1', 'k2', 'k3', 'arg']), 'k1');
    assert.equal(routingKey(['EVALSHA', 'abc', '0', 'arg']), undefined);
    for (const name of ['HGETALL', 'HGET', 'HMGET', 'EXISTS', 'TYPE', 'BRPOPLPUSH']) {
      assert.equal(routingKey([name, 'k', 'x']), 'k');
    }
    assert.equal(routingKey(['PUBLISH', 'doshit:cmd', 'task:kill:all']), undefined);
    assert.equal(routingKey(['SCRIPT', 'LOAD', 'return 1']), undefined);
  });

  test('the legacy API hands out the id as stored: tagged with its queue on a cluster', async () => {
    const legacy = doshit('redis+cluster://127.0.0.1:1', 'app', 'emails'); // nothing listens there
    const errors = [];
    legacy.on('error', (error) => errors.push(error));
    const done = new Promise((resolve) => {
      assert.match(
        legacy.task('echo', {}, (error) => resolve(error)),
        /^\{emails\}:[0-9a-f-]{36}$/,
      );
    });
    assert.equal(legacy.taskwithid('mine', 'echo', {}), '{emails}:mine');
    assert.equal(legacy.taskwithid('{emails}:mine', 'echo', {}), '{emails}:mine');
    assert.match((await done).message, /cannot connect to Redis at redis\+cluster:\/\/127\.0\.0\.1:1/);
    legacy.end();
    const plain = doshit('redis://127.0.0.1:1/0', 'app', 'emails');
    plain.on('error', () => {});
    assert.equal(plain.taskwithid('mine', 'echo', {}), 'mine');
    plain.end();
    assert.ok(errors.length >= 1);
  });
});
