// Drives the Node client for the cross-language tests (tests/test_node.py), one action per run:
//
//   DOSHIT_REDIS_URL=redis://... node driver.mjs <command> '<json params>'
//
// params always hold `prefix` (and may hold `queue`). Values in params may use the tags of
// schema/vectors, turned into values by the Node suite's own untag (test/helpers.js). It prints
// one line of JSON saying what happened; a value is shown as
// {"json": <its text by the package's encode>, "kind": <its JavaScript type, deeply>}, so BigInt,
// Date and the exact microseconds survive. An error of the client is an outcome ({"ok": false, ...});
// the exit status is non-zero only when the driver itself broke.
//
// This is not a test file: it does nothing useful without a command.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  DoshitError,
  TaskFailedError,
  TaskTimeoutError,
  createClient,
  encode,
  formatTimestamp,
  parseTimestamp,
} from '../../index.mjs';

const require = createRequire(import.meta.url);
const legacyClient = require('../../index.js'); // the legacy API, as a CommonJS user loads it
const { untag, waitFor } = require('../helpers.js');

const REDIS_URL = process.env.DOSHIT_REDIS_URL;

/** The JavaScript type of a value, through arrays and objects: 'bigint', 'DoshitDate', ['number'], ... */
function kind(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.map(kind);
  if (value instanceof Date) return value.constructor.name;
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, kind(v)]));
  return typeof value;
}

function show(value) {
  if (value instanceof Error) return { error: value.name, message: value.message };
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    return { json: BigInt(value).toString(), kind: 'number' }; // inexact: encode refuses it, show what it holds
  }
  return { json: encode(value), kind: kind(value) };
}

/** A client error as an outcome; anything else is a broken driver. */
function failure(error) {
  if (!(error instanceof DoshitError)) throw error;
  const out = { ok: false, error: error.name, message: error.message, taskId: error.taskId ?? null };
  if (error instanceof TaskFailedError) {
    Object.assign(out, { errorReason: error.errorReason, errorException: error.errorException });
  }
  if (error instanceof TaskTimeoutError) out.state = error.state;
  return out;
}

const submitted = (task) => ({ ok: true, taskId: task.id });

async function settle(promise, present = (value) => ({ ok: true, value: show(value) })) {
  try {
    return present(await promise);
  } catch (error) {
    return failure(error);
  }
}

/** A TaskInfo with every field decoded: timestamps as their text, args, resultValue and numbers shown. */
function described(info) {
  const decoded = {};
  for (const [name, value] of Object.entries(info.toObject())) {
    if (name === 'id') continue;
    if (name === 'args' || name === 'resultValue') decoded[name] = show(value);
    else if (value instanceof Date) decoded[name] = formatTimestamp(value);
    else if (typeof value === 'string') decoded[name] = value;
    else decoded[name] = show(value);
  }
  return { ok: true, taskId: info.id, finished: info.finished, info: decoded, fields: info.fields };
}

async function withClient({ prefix, queue }, action) {
  const client = await createClient({ url: REDIS_URL, prefix, queue });
  try {
    return await action(client);
  } finally {
    await client.close();
  }
}

/** Runs `start(done)` on a legacy client and resolves with what `done` got, then quits the client. */
async function withLegacy({ prefix, queue, timeout = 15000 }, start) {
  const legacy = legacyClient(REDIS_URL, prefix, queue);
  const events = [];
  legacy.on('success', (value, task, id) => events.push({ event: 'success', args: [show(value), show(task), id] }));
  legacy.on('failure', (error, task, id) => events.push({ event: 'failure', args: [show(error), show(task), id] }));
  legacy.on('error', (error) => events.push({ event: 'error', args: [show(error)] }));
  let timer;
  try {
    const got = await new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no callback within ${timeout} ms`)), timeout);
      start(legacy, resolve);
    });
    return { ok: true, ...got, events };
  } finally {
    clearTimeout(timer);
    await legacy.quit();
  }
}

const COMMANDS = {
  // options.at comes as a schema timestamp (JSON has no dates)
  submit: (p) =>
    withClient(p, (client) => {
      const options = p.options?.at ? { ...p.options, at: parseTimestamp(p.options.at) } : p.options;
      return settle(client.submit(p.fn, p.args, options), submitted);
    }),

  call: (p) => withClient(p, (client) => settle(client.call(p.fn, p.args, { ...p.options, timeout: p.timeout }))),

  result: (p) => withClient(p, (client) => settle(client.task(p.taskId).result({ timeout: p.timeout }))),

  get: (p) => withClient(p, (client) => settle(client.getTask(p.taskId), described)),

  cancel: (p) => withClient(p, (client) => settle(client.cancel(p.taskId), (value) => ({ ok: true, value }))),

  requeue: (p) => withClient(p, (client) => settle(client.requeue(p.taskId), (value) => ({ ok: true, value }))),

  // submit a task that writes args.marker when it starts, cancel it once it runs, await its outcome
  'submit-and-cancel-running': (p) =>
    withClient(p, async (client) => {
      const task = await client.submit(p.fn, p.args, p.options);
      await waitFor(() => existsSync(p.args.marker), `${p.fn} to start`, p.timeout);
      const cancel = await task.cancel();
      return { taskId: task.id, cancel, ...(await settle(task.result({ timeout: p.timeout }))) };
    }),

  'legacy-task': (p) =>
    withLegacy(p, (legacy, done) => {
      const taskId = legacy.task(p.fn, p.args, (...args) => done({ taskId, callback: args.map(show) }));
    }),

  'legacy-gettask': (p) =>
    withLegacy(p, (legacy, done) => legacy.gettask(p.taskId, (...args) => done({ callback: args.map(show) }))),
};

const [command, params = '{}'] = process.argv.slice(2);
if (!Object.hasOwn(COMMANDS, command) || !REDIS_URL) {
  const commands = Object.keys(COMMANDS).join('|');
  console.error(`usage: DOSHIT_REDIS_URL=redis://... node driver.mjs <${commands}> '<json params>'`);
  process.exit(2);
}
try {
  const out = await COMMANDS[command](untag(JSON.parse(params)));
  process.stdout.write(`${JSON.stringify(out)}\n`);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
