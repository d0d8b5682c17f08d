'use strict';
// The shared vectors in schema/vectors/, run in place against the Node client (the Python suite
// runs the same files).

const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const doshit = require('..');
const { Keys, TaskInfo, decode, encode, formatTimestamp, parseTimestamp, DoshitDate } = doshit;
const { checkTaskId } = require('../lib/keys');
const { submitFields, camel, dueOf } = require('../lib/protocol');
const { legacyTask } = require('../lib/legacy');
const { parseReply, scriptCall } = require('../lib/scripts');
const { loadVectors, untag, privateRedis, newPrefix } = require('./helpers');

const KEYS = loadVectors('keys.json');
const VALUES = loadVectors('values.json');
const TIMESTAMPS = loadVectors('timestamps.json');
const SUBMIT = loadVectors('submit.json');
const LEGACY = loadVectors('legacy_tasks.json');
const SCRIPTS = loadVectors('scripts.json');

/** Equal with types checked too: a BigInt is not a Number, a DoshitDate keeps its micros. */
function same(actual, expected, message) {
  assert.deepStrictEqual(actual, expected, message);
}

/** A datetime text with any offset and up to six fractional digits, as an exact DoshitDate. */
function moment(text) {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(.*)$/.exec(text);
  const digits = (match[2] || '').padEnd(6, '0');
  const time = Date.parse(`${match[1]}.${digits.slice(0, 3)}${match[3]}`);
  return new DoshitDate(time, Number(digits.slice(3)));
}

/** The options submitFields takes for a vector's: `delay` or `at` become `due`, as submit makes it. */
function fieldOptions(options) {
  const given = submitOptions(options);
  return { ...given, due: dueOf(given.delay, given.at) };
}

function submitOptions(options) {
  return Object.fromEntries(
    Object.entries(options).map(([name, value]) => [
      camel(name.replace(/_/g, '-')),
      name === 'at' ? parseTimestamp(value) : untag(value),
    ]),
  );
}

describe('keys.json', () => {
  for (const c of KEYS.cases) {
    test(`${c.prefix} ${c.queue}${c.cluster ? ' (cluster)' : ''}`, () => {
      const keys = new Keys(c.prefix, { cluster: c.cluster ?? false });
      const expect = c.expect;
      assert.equal(keys.task(c.task_id), expect.task);
      assert.equal(keys.pending(c.queue), expect.pending);
      assert.equal(keys.executing(c.queue), expect.executing);
      assert.equal(keys.worker(c.worker_id), expect.worker);
      assert.equal(keys.results, expect.results);
      assert.equal(keys.cmd, expect.cmd);
      assert.equal(keys.kill(c.task_id), expect.kill);
      assert.equal(keys.killAll, expect.kill_all);
      assert.equal(keys.scheduled(c.queue), expect.scheduled);
      assert.equal(keys.failed(c.queue), expect.failed);
      assert.equal(keys.recovery(c.queue), expect.recovery);
      assert.equal(keys.scheduledCommand(c.queue), expect.scheduled_command);
      assert.equal(keys.taskId(expect.task), c.task_id);
    });
  }
  test('on a cluster a task id starts with its queue\'s tag, put in front once', () => {
    for (const c of KEYS.cluster_task_ids) {
      assert.equal(new Keys('doshit', { cluster: true }).taskIdFor(c.queue, c.given), c.stored);
      assert.equal(new Keys('doshit').taskIdFor(c.queue, c.given), c.given);
    }
  });
  test('invalid task ids are refused', () => {
    for (const id of KEYS.invalid_task_ids) assert.throws(() => checkTaskId(id), /task id/, JSON.stringify(id));
  });
  test('invalid prefix and queue names are refused', () => {
    for (const name of KEYS.invalid_names) {
      assert.throws(() => new Keys(name), doshit.ConfigError);
      assert.throws(() => new Keys('doshit').pending(name), doshit.ConfigError);
    }
  });
});

describe('values.json', () => {
  for (const c of VALUES.cases) {
    test(c.name, () => {
      const value = untag(c.value);
      const text = encode(value);
      if (c.exact) assert.equal(text, c.json);
      same(decode(text), value);
      for (const other of [c.json, ...(c.also_decodes || [])]) same(decode(other), value, other);
    });
  }
  for (const c of VALUES.refused) {
    test(`refused: ${c.name}`, () => {
      assert.throws(() => encode(untag(c.value)), doshit.EncodeError);
    });
  }
  test('invalid JSON is a DecodeError', () => {
    for (const text of VALUES.invalid_json) assert.throws(() => decode(text), doshit.DecodeError, text);
  });
});

describe('timestamps.json', () => {
  for (const c of TIMESTAMPS.cases) {
    test(c.text, () => {
      const date = moment(c.datetime);
      assert.equal(formatTimestamp(date), c.text);
      same(parseTimestamp(c.text), date);
      assert.equal(parseTimestamp(c.text).getTime(), Date.parse(c.datetime.replace(/(\.\d{3})\d+/, '$1')));
    });
  }
  test('texts that are not timestamps', () => {
    for (const text of TIMESTAMPS.invalid) assert.throws(() => parseTimestamp(text), doshit.DecodeError, text);
  });
});

describe('submit.json', () => {
  for (const c of SUBMIT.cases) {
    test(`fields: ${c.name}`, () => {
      const fields = submitFields(c.function, untag(c.args), { queue: c.queue, now: c.now, ...fieldOptions(c.options) });
      assert.deepStrictEqual(Object.fromEntries(fields), c.expect.hash);
    });
  }
  for (const c of SUBMIT.refused) {
    test(`refused: ${c.name}`, () => {
      assert.throws(() => submitFields(c.function, untag(c.args), { queue: 'default', ...fieldOptions(c.options) }));
    });
  }

  describe('against Redis', () => {
    const db = privateRedis();

    for (const c of SUBMIT.cases) {
      test(`the client writes: ${c.name}`, async () => {
        const prefix = newPrefix();
        const client = await doshit.createClient({ url: db.url, prefix });
        try {
          const options = { queue: c.queue, taskId: c.task_id, ...submitOptions(c.options) };
          const task = await client.submit(c.function, untag(c.args), options);
          const key = c.expect.key.replace(`${c.prefix}:`, `${prefix}:`);
          assert.equal(task.key, key);
          const written = await db.redis.hGetAll(key);
          assert.match(written['pending-created'], new RegExp(doshit.schema.timestamp.regex));
          assert.deepStrictEqual(
            { ...written, 'pending-created': c.expect.hash['pending-created'] },
            c.expect.hash,
          );
          if (c.expect.scheduled) {
            const scheduled = c.expect.scheduled.key.replace(`${c.prefix}:`, `${prefix}:`);
            assert.deepStrictEqual(await db.redis.zRangeWithScores(scheduled, 0, -1), [
              { value: c.task_id, score: c.expect.scheduled.score },
            ]);
            assert.deepStrictEqual(await db.redis.keys(`${prefix}:*:pending`), []);
          } else {
            assert.deepStrictEqual(await db.redis.lRange(c.expect.list.replace(`${c.prefix}:`, `${prefix}:`), 0, -1), [c.task_id]);
          }
        } finally {
          await client.close();
        }
      });
    }

    test('refused submits write nothing', async () => {
      const prefix = newPrefix();
      const client = await doshit.createClient({ url: db.url, prefix });
      try {
        for (const c of SUBMIT.refused) {
          await assert.rejects(client.submit(c.function, untag(c.args), submitOptions(c.options)), c.name);
        }
        assert.deepStrictEqual(await db.redis.keys(`${prefix}:*`), []);
      } finally {
        await client.close();
      }
    });
  });
});

describe('legacy_tasks.json', () => {
  for (const c of LEGACY.cases.filter((c) => 'args' in c)) {
    test(`args of ${c.name}`, () => {
      same(new TaskInfo(c.task_id, c.hash).args, untag(c.args));
      same(legacyTask(new TaskInfo(c.task_id, c.hash)).args, untag(c.args));
    });
  }
  for (const c of LEGACY.finished) {
    test(`finished: ${c.name}`, () => {
      const info = new TaskInfo('x', c.hash);
      assert.ok(info.finished);
      if ('value' in c.outcome) {
        same(info.outcome(), untag(c.outcome.value));
      } else {
        assert.throws(
          () => info.outcome(),
          (error) => error instanceof doshit.TaskFailedError && error.errorReason === c.outcome.failed,
        );
      }
      for (const [field, text] of Object.entries(c.times || {})) {
        same(info[camel(field)], parseTimestamp(text));
        assert.equal(info[camel(field)].toTimestamp(), text);
      }
    });
  }
});

describe('scripts.json', () => {
  for (const c of SCRIPTS.calls) {
    test(`call: ${c.name}`, () => {
      const call = scriptCall(c.script, { keys: c.keys, argv: c.argv });
      assert.equal(call.name, c.script);
      assert.equal(call.spec, doshit.schema.scripts[c.script]);
      assert.deepStrictEqual([...call.keys], c.expect.keys);
      assert.deepStrictEqual([...call.argv], c.expect.argv);
    });
  }
  for (const c of SCRIPTS.refused) {
    test(`refused: ${c.name}`, () => {
      assert.throws(
        () => scriptCall(c.script, { keys: c.keys, argv: c.argv }),
        (error) => error instanceof TypeError && error.message.includes(c.error),
      );
    });
  }
  for (const c of SCRIPTS.replies) {
    test(`reply: ${c.script} ${JSON.stringify(c.reply)}`, () => {
      assert.deepStrictEqual(parseReply(c.script, c.reply), c.expect);
    });
  }
  for (const c of SCRIPTS.bad_replies) {
    test(`bad reply: ${c.script} ${JSON.stringify(c.reply)}`, () => {
      assert.throws(() => parseReply(c.script, c.reply), doshit.DecodeError);
    });
  }
});
