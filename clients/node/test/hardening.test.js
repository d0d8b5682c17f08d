'use strict';
// What a client must refuse before writing, and what it makes of hostile data in Redis (issue 8):
// out-of-range numbers, reserved queue names, ids, args over the limit, JSON and bytes that do not
// decode, keys of the wrong type, bad URLs and passwords that must never show.

const assert = require('node:assert/strict');
const { inspect } = require('node:util');
const { describe, test } = require('node:test');
const doshit = require('..');
const { maskUrl, resolve } = require('../lib/config');
const { clientPerTest, privateRedis, workOne } = require('./helpers');

const { ConfigError, DecodeError, schema } = doshit;
const db = privateRedis();
let prefix;
let client;

clientPerTest(db, { made: (fresh) => ({ prefix, client } = fresh), current: () => client });

async function nothingWritten() {
  assert.deepStrictEqual(await db.redis.keys(`${prefix}:*`), []);
}

/** The URL of the private Redis with a user, a password and a database of our choosing. */
function urlWith({ userinfo = '', database = '0', query = '' } = {}) {
  const { port } = new URL(db.url);
  return `redis://${userinfo}127.0.0.1:${port}/${database}${query}`;
}

describe('resultTtl and virtualMemoryLimit', () => {
  test('a resultTtl that is not a whole number from 0 to the schema limit is refused before anything is written', async () => {
    const max = schema.limits.result_ttl_max_seconds;
    for (const resultTtl of [2.5, 1e999, 10n ** 30n, -1, -1n, NaN, max + 1, BigInt(max) + 1n, '60', 2 ** 60]) {
      await assert.rejects(
        client.submit('echo', {}, { resultTtl }),
        (error) => error instanceof RangeError && error.message.includes(`from 0 to ${max}`),
        String(resultTtl),
      );
    }
    await nothingWritten();
  });

  test('the edges of resultTtl are written exactly, and the claim reply carries them to the worker', async () => {
    const max = schema.limits.result_ttl_max_seconds;
    for (const resultTtl of [0, max, BigInt(max)]) {
      const task = await client.submit('echo', { value: 1 }, { resultTtl });
      assert.equal(await db.redis.hGet(task.key, 'result-ttl'), String(resultTtl));
      let claimed;
      await workOne(db.redis, prefix, (fn, args, reply) => {
        claimed = reply;
        return { value: args.value };
      });
      assert.equal(claimed['result-ttl'], String(resultTtl));
      assert.equal(await task.result({ timeout: 5000 }), 1);
    }
  });

  test('a virtualMemoryLimit that is not a whole number from 1 to 2^63-1 is refused before anything is written', async () => {
    for (const virtualMemoryLimit of [0, -5, 2.5, NaN, 1e999, 2 ** 63, 2n ** 63n, 0n]) {
      await assert.rejects(
        client.submit('echo', {}, { virtualMemoryLimit }),
        (error) => error instanceof RangeError && error.message.includes('from 1 to 9223372036854775807'),
        String(virtualMemoryLimit),
      );
    }
    await nothingWritten();
    const task = await client.submit('echo', {}, { virtualMemoryLimit: 2n ** 63n - 1n });
    assert.equal(await db.redis.hGet(task.key, 'virtual-memory-limit'), '9223372036854775807');
  });

  test('the client-wide virtualMemoryLimit (option or environment) has the same range', async () => {
    await assert.rejects(doshit.createClient({ url: db.url, virtualMemoryLimit: 2n ** 63n }), ConfigError);
    await assert.rejects(doshit.createClient({ url: db.url, virtualMemoryLimit: 1.5 }), ConfigError);
    const env = { DOSHIT_REDIS_URL: db.url };
    assert.throws(() => resolve({}, { ...env, DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT: '9223372036854775808' }), ConfigError);
    assert.throws(() => resolve({}, { ...env, DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT: '-1' }), ConfigError);
    assert.equal(resolve({}, { ...env, DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT: '9223372036854775807' }).virtualMemoryLimit, 2n ** 63n - 1n);
    assert.equal(resolve({}, { ...env, DOSHIT_TASK_VIRTUAL_MEMORY_LIMIT: '1000' }).virtualMemoryLimit, 1000);
  });
});

describe('reserved queue names', () => {
  for (const queue of schema.names.reserved_queues) {
    test(`a queue named ${queue} is refused wherever a queue name is taken`, async () => {
      await assert.rejects(doshit.createClient({ url: db.url, prefix, queue }), /queue may not be named/);
      await assert.rejects(client.submit('echo', {}, { queue }), ConfigError);
      await assert.rejects(client.cancel('some-id', queue), ConfigError);
      assert.throws(() => resolve({}, { DOSHIT_QUEUE: queue }), ConfigError);
      const saved = process.env.DOSHIT_QUEUE;
      process.env.DOSHIT_QUEUE = queue;
      try {
        await assert.rejects(doshit.createClient({ url: db.url, prefix }), ConfigError);
      } finally {
        if (saved === undefined) delete process.env.DOSHIT_QUEUE;
        else process.env.DOSHIT_QUEUE = saved;
      }
      const legacy = doshit(db.url, prefix, queue);
      const error = await new Promise((resolve) => legacy.on('error', resolve));
      assert.ok(error instanceof ConfigError);
      await nothingWritten();
    });
  }
});

describe('task ids', () => {
  const bad = ['\ud800', 'a\udc00b', 'x\n', 'x'.repeat(257), '', 'a b', 'nul\u0000'];

  test('ids that break the schema rule or are not well-formed Unicode are refused everywhere', async () => {
    for (const id of bad) {
      const name = JSON.stringify(id).slice(0, 40);
      await assert.rejects(client.submit('echo', {}, { taskId: id }), RangeError, name);
      await assert.rejects(client.getTask(id), RangeError, name);
      await assert.rejects(client.cancel(id), RangeError, name);
      await assert.rejects(client.requeue(id), RangeError, name);
      assert.throws(() => client.task(id), RangeError, name);
    }
    await nothingWritten();
    for (const id of ['x'.repeat(256), '🎉'.repeat(256), 'émoji-🎉']) {
      const task = await client.submit('echo', {}, { taskId: id });
      assert.equal((await client.getTask(id)).id, task.id);
    }
  });

  test('a message shows at most a short, escaped part of a bad id', async () => {
    await assert.rejects(client.submit('echo', {}, { taskId: `${'x'.repeat(1_000_000)}\n` }), (error) => {
      assert.ok(error.message.length < 400, error.message.length);
      assert.match(error.message, /\(1000001 characters\)$/);
      return true;
    });
  });
});

describe('maxArgsBytes', () => {
  test('args whose JSON is over the limit in UTF-8 bytes are refused, naming size and limit', async () => {
    const small = await doshit.createClient({ url: db.url, prefix, maxArgsBytes: 100 });
    try {
      // {"text":"é…"}: 11 bytes of JSON around 45 two-byte characters = 101 bytes, 56 characters
      await assert.rejects(small.submit('echo', { text: 'é'.repeat(45) }), (error) => {
        assert.ok(error instanceof RangeError);
        assert.match(error.message, /args are 101 bytes as JSON, more than the client's limit of 100/);
        return true;
      });
      await nothingWritten();
      const task = await small.submit('echo', { text: 'é'.repeat(44) });
      assert.equal(Buffer.byteLength(await db.redis.hGet(task.key, 'args')), 99);
    } finally {
      await small.close();
    }
  });

  test('the default is the schema limit', async () => {
    const limit = schema.limits.max_args_bytes;
    await assert.rejects(client.submit('echo', { text: 'x'.repeat(limit) }), new RegExp(`more than the client's limit of ${limit}`));
    await nothingWritten();
  });

  test('the option must be a positive integer', async () => {
    for (const maxArgsBytes of [0, -1, 1.5, '100', NaN]) {
      await assert.rejects(doshit.createClient({ url: db.url, maxArgsBytes }), ConfigError, String(maxArgsBytes));
    }
  });
});

describe('JSON from Redis', () => {
  const overflowing = ['1e999999', '[-1e400]', '{"a":1E+400}', '[12345678901234567890, 1e400]', '1.8e308'];

  test('numbers beyond a double are a DecodeError, on the fast path and the exact one', async () => {
    for (const text of overflowing) assert.throws(() => doshit.decode(text), DecodeError, text);
    assert.equal(doshit.decode('1e308'), 1e308);
    assert.equal(doshit.decode('1e-400'), 0);
    assert.equal(doshit.decode('"1e999"'), '1e999');
    await db.redis.hSet(`${prefix}:task:big`, { state: 'finished', result: 'successful', 'result-value': '[-1e400]' });
    await assert.rejects(client.task('big').result(), /field result-value: .*beyond a double's range/);
  });

  test('nesting too deep for the parser is a DecodeError', async () => {
    const deepInteger = `${'['.repeat(100_000)}1234567890123456789${']'.repeat(100_000)}`;
    const datetime = '{"type":"datetime","value":"2015-12-05T00:19:01.834909Z"}';
    const deepDatetime = `${'['.repeat(100_000)}${datetime}${']'.repeat(100_000)}`;
    for (const text of [deepInteger, deepDatetime]) assert.throws(() => doshit.decode(text), DecodeError);
    await db.redis.hSet(`${prefix}:task:deep`, { state: 'finished', result: 'successful', 'result-value': deepDatetime });
    await assert.rejects(client.task('deep').result(), DecodeError);
  });

  test('a "__proto__" key stays an own property and changes no prototype', async () => {
    const texts = [
      '{"__proto__":{"polluted":true},"a":1}', // JSON.parse
      '{"__proto__":{"polluted":true},"a":12345678901234567890}', // the exact parser
      '{"__proto__":{"polluted":true},"a":{"type":"datetime","value":"2015-12-05T00:19:01.834909Z"}}', // revived
      '[{"__proto__":{"__proto__":{"polluted":true}}}]',
    ];
    for (const text of texts) {
      const value = doshit.decode(text);
      const object = Array.isArray(value) ? value[0] : value;
      assert.equal(Object.getPrototypeOf(object), Object.prototype, text);
      assert.ok(Object.hasOwn(object, '__proto__'), text);
      assert.equal(object.polluted, undefined, text);
      assert.equal({}.polluted, undefined, text);
    }
    await db.redis.hSet(`${prefix}:task:proto`, {
      state: 'finished',
      result: 'successful',
      args: '{"__proto__":{"polluted":true}}',
      'result-value': '{"__proto__":{"polluted":true}}',
      ['__proto__']: 'a field', // computed: an own key, not the literal's prototype
    });
    const info = await client.getTask('proto');
    for (const value of [info.args, info.resultValue, info.fields]) {
      assert.equal(Object.getPrototypeOf(value), Object.prototype);
      assert.ok(Object.hasOwn(value, '__proto__'));
    }
    assert.equal(Object.getOwnPropertyDescriptor(info.fields, '__proto__').value, 'a field');
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(info.args, '__proto__').value, { polluted: true });
  });
});

describe('bytes that are not UTF-8', () => {
  const notUtf8 = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]); // {"a":"\xff"}

  test('reading the property of such a field is a DecodeError naming it; fields keeps a best-effort string', async () => {
    const key = `${prefix}:task:bytes`;
    await db.redis.hSet(key, {
      function: 'echo',
      state: 'finished',
      result: 'successful',
      args: notUtf8,
      username: Buffer.from([0x62, 0xc3, 0x28]),
      'result-value': '"fine"',
      queue: '\ufeffbom', // a byte order mark is text, and kept
    });
    const info = await client.getTask('bytes');
    assert.throws(() => info.args, /task bytes: field args: not valid UTF-8/);
    assert.throws(() => info.username, (error) => error instanceof DecodeError && /field username: not valid UTF-8/.test(error.message));
    assert.equal(info.fields.username, 'b\ufffd(');
    assert.equal(info.fields.args, '{"a":"\ufffd"}');
    assert.equal(info.resultValue, 'fine');
    assert.equal(info.queue, '\ufeffbom');
    assert.equal(info.function, 'echo');
    assert.match(inspect(info), /username: '\(not decodable\) b\ufffd\('/);
    assert.throws(() => info.toObject(), DecodeError);
    await db.redis.hSet(key, 'result-value', notUtf8);
    await assert.rejects(client.task('bytes').result({ timeout: 1000 }), /task bytes: field result-value: not valid UTF-8/);
  });

  test('a TaskInfo made from bytes reads them the same way', () => {
    const info = new doshit.TaskInfo('x', { args: notUtf8, function: Buffer.from('echo'), state: 'pending' });
    assert.equal(info.function, 'echo');
    assert.throws(() => info.args, /field args: not valid UTF-8/);
  });
});

describe('a key that is not a hash', () => {
  test('reading it is a DecodeError, cancelling it says missing', async () => {
    await db.redis.lPush(`${prefix}:task:listy`, 'x');
    await assert.rejects(client.getTask('listy'), (error) => error instanceof DecodeError && /is not a hash/.test(error.message));
    await assert.rejects(client.task('listy').poll(), DecodeError);
    await assert.rejects(client.task('listy').result({ timeout: 1000 }), DecodeError);
    assert.equal(await client.cancel('listy'), 'missing');
    assert.deepStrictEqual(await db.redis.lRange(`${prefix}:task:listy`, 0, -1), ['x']);
  });

  test('cancel falls back to the client queue when the hash names a queue no queue may have', async () => {
    const task = await client.submit('echo', { value: 1 }, { taskId: 'odd-queue' });
    await db.redis.hSet(task.key, 'queue', 'task');
    assert.equal(await client.cancel(task.id), 'cancelled');
    assert.equal(await db.redis.lLen(`${prefix}:default:pending`), 0);
  });
});

describe('Redis URLs', () => {
  test('a bad port, a database that is not a number, or a bad percent-encoding is a ConfigError at createClient', async () => {
    const { port } = new URL(db.url);
    const cases = [
      [`redis://127.0.0.1:abc/0`, /bad port "abc"/],
      [`redis://127.0.0.1:70000/0`, /bad port "70000"/],
      [`redis://127.0.0.1:${port}/x`, /database must be a number, got "x"/],
      [`redis://127.0.0.1:${port}/0/1`, /database must be a number/],
      [`redis://127.0.0.1:${port}?db=two`, /database must be a number/],
      [`redis://:%zz@127.0.0.1:${port}/0`, /bad percent-encoding in its password/],
      ['redis:///0', /names no host/],
      ['unix://', /socket's path/],
    ];
    for (const [url, expected] of cases) {
      const started = Date.now();
      await assert.rejects(doshit.createClient({ url }), (error) => error instanceof ConfigError && expected.test(error.message), url);
      assert.ok(Date.now() - started < 1000, url);
    }
  });

  test('a database the server refuses is a ConfigError, not a hang', async () => {
    await assert.rejects(doshit.createClient({ url: urlWith({ database: '999' }) }), (error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /database number is out of range/);
      return true;
    });
    const other = await doshit.createClient({ url: urlWith({ database: '', query: '?db=3' }), prefix });
    try {
      const task = await other.submit('echo', {});
      await db.redis.sendCommand(['SELECT', '3']);
      assert.equal(await db.redis.exists(task.key), 1);
    } finally {
      await db.redis.sendCommand(['SELECT', '0']);
      await other.close();
    }
  });

  test('passwords are masked, whatever they hold; a raw / or @ in one is refused, masked', async () => {
    assert.equal(maskUrl('redis://u:p%2Fw%40x@h:1/0'), 'redis://u:***@h:1/0');
    assert.equal(maskUrl('redis://u:p/w@h:1/0'), 'redis://u:***@h:1/0');
    assert.equal(maskUrl('redis://u:p@w@h:1/0'), 'redis://u:***@h:1/0');
    assert.equal(maskUrl('rediss://:secret@h'), 'rediss://:***@h');
    assert.equal(maskUrl('unix://u:secret@/tmp/r.sock?db=1'), 'unix://u:***@/tmp/r.sock?db=1');
    assert.equal(maskUrl('redis://h:1/0'), 'redis://h:1/0');
    for (const url of ['redis://u:s3cr/t@h:1/0', 'redis://u:s3cr@t@h:1/0', 'redis://u:s3cr?t@h:1/0']) {
      await assert.rejects(doshit.createClient({ url }), (error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /percent-encode/);
        assert.ok(!error.message.includes('s3cr'), error.message);
        return true;
      });
    }
  });

  test('a password with / and @, percent-encoded, connects; no message or description shows it', async () => {
    const password = 'p/w@x:y';
    await db.redis.sendCommand(['ACL', 'SETUSER', 'doshit-user', 'on', `>${password}`, '~*', '&*', '+@all']);
    const url = urlWith({ userinfo: `doshit-user:${encodeURIComponent(password)}@` });
    const secure = await doshit.createClient({ url, prefix });
    try {
      const task = await secure.submit('echo', { value: 7 });
      await workOne(db.redis, prefix, (fn, args) => ({ value: args.value }));
      assert.equal(await task.result({ timeout: 5000 }), 7);
      const shown = inspect(secure);
      assert.match(shown, /doshit-user:\*\*\*@/);
      assert.ok(!shown.includes('p%2Fw') && !shown.includes(password), shown);
    } finally {
      await secure.close();
    }
    const wrong = urlWith({ userinfo: 'doshit-user:wr%2Fong@' });
    await assert.rejects(doshit.createClient({ url: wrong }), (error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /refused access: WRONGPASS/);
      assert.ok(!error.message.includes('wr%2Fong') && !error.message.includes('wr/ong'), error.message);
      return true;
    });
  });

  test('TLS query parameters: only with rediss://, only the ones the client reads, files read at once', () => {
    assert.throws(() => resolve({ url: 'redis://h/0?ssl_ca_certs=/etc/hostname' }, {}), /ssl_ca_certs needs a rediss:\/\/ URL/);
    assert.throws(() => resolve({ url: 'rediss://h/0?ssl_ciphers=HIGH' }, {}), /ssl_ciphers is not supported/);
    assert.throws(() => resolve({ url: 'rediss://h/0?ssl_cert_reqs=maybe' }, {}), /ssl_cert_reqs must be none, optional or required/);
    const relaxed = resolve({ url: 'rediss://h/0?ssl_cert_reqs=none&ssl_check_hostname=false' }, {}).connection.socket;
    assert.equal(relaxed.rejectUnauthorized, false);
    assert.equal(relaxed.checkServerIdentity(), undefined);
    const strict = resolve({ url: 'rediss://h/0?ssl_cert_reqs=required&ssl_check_hostname=true' }, {}).connection.socket;
    assert.deepStrictEqual(strict, { host: 'h', tls: true });
    assert.throws(() => resolve({ url: 'rediss://h/0?ssl_ca_certs=/no/such/ca.pem' }, {}), /cannot read the ssl_ca_certs file "\/no\/such\/ca.pem"/);
    assert.deepStrictEqual(resolve({ url: 'rediss://u:p@h:7/2?socket_timeout=5' }, {}).connection, {
      username: 'u',
      password: 'p',
      database: 2,
      socket: { host: 'h', port: 7, tls: true },
    });
    assert.deepStrictEqual(resolve({ url: 'redis://[::1]:7' }, {}).connection.socket, { host: '::1', port: 7 });
    const legacy = resolve({}, { DOSHIT_REDIS: JSON.stringify({ host: 'h', ssl: true, ssl_ca_certs: __filename }) });
    assert.ok(Buffer.isBuffer(legacy.connection.socket.ca) && legacy.connection.socket.tls);
    assert.throws(() => resolve({}, { DOSHIT_REDIS: JSON.stringify({ ssl_ca_certs: __filename }) }), /needs "ssl": true/);
  });
});
