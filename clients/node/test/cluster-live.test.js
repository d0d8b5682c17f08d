'use strict';
// The client on a real Redis Cluster of three masters with a replica each, started here on free
// loopback ports (test/helpers.js startCluster): keys land where the layout says, every script call
// runs on the master of its task's slot (a node that lacks a script gets it), durable submits WAIT on
// that master, and results come back through the classic pub/sub channel. tests/test_cluster.py runs
// it with Python workers, and through a failover.

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const doshit = require('..');
const { clusterUnsupported, newPrefix, startCluster, workOne } = require('./helpers');

const { TaskExistsError, TaskNotDurableError } = doshit;

const echo = (fn, args) => ({ value: args.text ?? null });
const DURABLE = 'durable_replicas=1&durable_timeout_ms=2000';

describe('on a Redis Cluster', { skip: clusterUnsupported() ?? false }, () => {
  let cluster;
  let prefix;
  let client; // the client under test
  let worker; // a second client, whose cluster connection the test worker (workOne) takes tasks on
  /** One queue name per master, found by asking the cluster where each queue's keys go. */
  let queues;

  /** The port of the master that holds `key`'s slot, as the client's cluster sees it. */
  const masterOf = async (key) => (await client.redis.getNodeClientForKey(key)).options.socket.port;
  /** The port of the node that holds `key`, as the nodes say (one that does not answers MOVED). */
  const holderOf = async (key) => {
    for (const node of cluster.nodes) {
      if (Number(await node.redis.sendCommand(['EXISTS', key]).catch(() => 0)) === 1) return node.port;
    }
    return null;
  };
  const work = (queue, handler = echo) => workOne(worker.redis, prefix, handler, { queue, cluster: true });

  before(async () => {
    cluster = await startCluster();
    prefix = newPrefix();
    client = await doshit.createClient({ url: cluster.url, prefix });
    worker = await doshit.createClient({ url: cluster.url, prefix });
    const found = new Map();
    for (let n = 0; found.size < 3; n += 1) {
      const port = await masterOf(client.keys.pending(`q${n}`));
      if (!found.has(port)) found.set(port, `q${n}`);
    }
    queues = [...found.values()];
  });
  after(async () => {
    await client?.close();
    await worker?.close();
    await cluster?.stop();
  });

  test('a queue\'s keys and its tasks sit on one master; queues spread over the masters', async () => {
    const tasks = [];
    for (const queue of queues) {
      const task = await client.submit('echo', { text: queue }, { queue });
      assert.ok(task.id.startsWith(`{${queue}}:`), task.id);
      const slotOf = (key) => cluster.nodes[0].redis.sendCommand(['CLUSTER', 'KEYSLOT', key]);
      assert.equal(await slotOf(task.key), await slotOf(client.keys.pending(queue)));
      tasks.push(task);
    }
    const holders = await Promise.all(queues.map((queue) => holderOf(client.keys.pending(queue))));
    assert.deepStrictEqual(await Promise.all(tasks.map((task) => holderOf(task.key))), holders);
    assert.equal(new Set(holders).size, queues.length);
    for (const [index, queue] of queues.entries()) {
      await work(queue);
      assert.equal(await tasks[index].result({ timeout: 5000 }), queue);
    }
  });

  test('call, a chosen id, submitMany, and a result awaited by id', async () => {
    const [queue] = queues;
    const called = client.call('echo', { text: 'called' }, { queue, timeout: 5000 });
    await work(queue);
    assert.equal(await called, 'called');
    const chosen = await client.submit('echo', { text: 'mine' }, { queue, taskId: 'mine' });
    assert.equal(chosen.id, `{${queue}}:mine`);
    await assert.rejects(client.submit('echo', {}, { queue, taskId: `{${queue}}:mine` }), TaskExistsError);
    await work(queue);
    assert.equal(await client.task(chosen.id).result({ timeout: 5000 }), 'mine');
    const many = await client.submitMany('echo', [{ text: 'a' }, { text: 'b' }], { queue: queues[1] });
    assert.deepStrictEqual(many.map((task) => task.id.startsWith(`{${queues[1]}}:`)), [true, true]);
    for (const _ of many) await work(queues[1]);
    assert.deepStrictEqual(await Promise.all(many.map((task) => task.result({ timeout: 5000 }))), ['a', 'b']);
  });

  test('cancel and requeue run on the task\'s master; an id of no queue is missing', async () => {
    const queue = queues[2];
    const task = await client.submit('echo', {}, { queue, delay: 60 });
    assert.equal(await task.cancel(), 'cancelled');
    assert.equal(await client.cancel(task.id), 'finished');
    assert.equal((await task.info()).state, 'finished');
    assert.equal(await client.requeue(task.id), 'requeued');
    await work(queue);
    assert.equal(await task.result({ timeout: 5000 }), null);
    assert.equal(await client.cancel(`{${queues[0]}}:nothing`), 'missing');
    assert.equal(await client.cancel('no-tag'), 'missing');
    assert.equal(await client.requeue('no-tag'), 'missing');
  });

  test('a master that lacks a script gets it, and the call runs', async () => {
    await Promise.all(cluster.nodes.map((node) => node.redis.sendCommand(['SCRIPT', 'FLUSH'])));
    for (const queue of queues) assert.ok((await client.submit('echo', {}, { queue })).id);
    await Promise.all(cluster.nodes.map((node) => node.redis.sendCommand(['SCRIPT', 'FLUSH'])));
    assert.equal((await client.submitMany('echo', [{}], { queue: queues[1] })).length, 1);
    for (const queue of queues) while (await worker.redis.sendCommand(['LPOP', client.keys.pending(queue)]));
  });

  test('durable submits wait for the replica of the task\'s master', async () => {
    const durable = await doshit.createClient({ url: `${cluster.url}?${DURABLE}`, prefix });
    const greedy = await doshit.createClient({ url: `${cluster.url}?durable_replicas=2&durable_timeout_ms=50`, prefix });
    try {
      for (const queue of queues) {
        const task = await durable.submit('echo', {}, { queue });
        assert.equal((await task.info()).state, 'pending');
        await Promise.all(cluster.nodes.map((node) => node.redis.sendCommand(['SCRIPT', 'FLUSH'])));
        assert.equal((await durable.submitMany('echo', [{}, {}], { queue })).length, 2);
        await assert.rejects(greedy.submit('echo', {}, { queue, taskId: 'greedy' }), (error) => {
          assert.ok(error instanceof TaskNotDurableError, String(error));
          assert.equal(error.taskId, `{${queue}}:greedy`);
          assert.equal(error.acknowledged, 1); // each master has one replica
          return true;
        });
      }
    } finally {
      await durable.close();
      await greedy.close();
    }
  });

  test('a durable submit follows its slot to the master it moved to (MOVED)', async () => {
    const durable = await doshit.createClient({ url: `${cluster.url}?${DURABLE}`, prefix });
    try {
      // the client has learned the slots; now the slot of a new queue moves to another master
      const queue = 'moving';
      const pending = durable.keys.pending(queue);
      const sourcePort = await masterOf(pending);
      const source = cluster.nodes.find((each) => each.port === sourcePort);
      const destination = cluster.nodes.slice(0, 3).find((each) => each !== source); // startCluster's masters
      const slot = String(await source.redis.sendCommand(['CLUSTER', 'KEYSLOT', pending]));
      const [sourceId, destinationId] = await Promise.all(
        [source, destination].map((each) => each.redis.sendCommand(['CLUSTER', 'MYID'])),
      );
      await destination.redis.sendCommand(['CLUSTER', 'SETSLOT', slot, 'IMPORTING', sourceId]);
      await source.redis.sendCommand(['CLUSTER', 'SETSLOT', slot, 'MIGRATING', destinationId]);
      for (;;) {
        const keys = await source.redis.sendCommand(['CLUSTER', 'GETKEYSINSLOT', slot, '100']);
        if (!keys.length) break;
        const to = ['127.0.0.1', String(destination.port), '', '0', '5000'];
        await source.redis.sendCommand(['MIGRATE', ...to, 'KEYS', ...keys]);
      }
      for (const each of [destination, source]) {
        await each.redis.sendCommand(['CLUSTER', 'SETSLOT', slot, 'NODE', destinationId]);
      }
      const task = await durable.submit('echo', {}, { queue });
      assert.equal(await holderOf(task.key), destination.port);
      assert.equal((await durable.redis.getNodeClientForKey(task.key)).options.socket.port, destination.port);
    } finally {
      await durable.close();
    }
  });

  test('a keyless command goes to any node: killAll reaches the cmd channel', async () => {
    assert.equal(typeof (await client.killAll()), 'number');
  });
});
