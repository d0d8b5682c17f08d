'use strict';
// The node-redis object one client connection is: a RedisClient for redis://, rediss:// and
// unix:// URLs, a RedisSentinel for a redis+sentinel:// URL (it asks the sentinels for the master,
// moves its commands and subscriptions to a new master after a failover, and sends again a command
// that met READONLY), a RedisCluster for a redis+cluster:// URL (it sends each command to the master
// of its key's slot, follows MOVED and ASK, and keeps its subscription on a connection of its own);
// and the one submit that waits for replicas (WAIT) when the URL asks for it.

const {
  RedisCluster,
  RootNodesUnavailableError,
  createClient: createRedis,
  createCluster,
  createSentinel,
} = require('@redis/client');
const { connectionOptions } = require('./config');
const { TaskNotDurableError } = require('./errors');
const { parseReply, runScript } = require('./scripts');

/**
 * A RedisSentinel whose sendCommand also takes a RedisClient's arguments (args, options), so the
 * rest of the client sends commands the same way to both. Commands go to the master.
 */
function sentinelConnection(settings, state) {
  const { socket, ...nodeOptions } = connectionOptions(settings, state);
  const { name, sentinelRootNodes, sentinelClientOptions } = settings.sentinel;
  const sentinel = createSentinel({
    name,
    sentinelRootNodes,
    sentinelClientOptions,
    nodeClientOptions: { ...nodeOptions, socket },
    masterPoolSize: 1,
  });
  const sendCommand = sentinel.sendCommand.bind(sentinel);
  sentinel.sendCommand = (first, ...rest) =>
    Array.isArray(first) ? sendCommand(undefined, first, ...rest) : sendCommand(first, ...rest);
  return sentinel;
}

/**
 * Commands of this client that name no key: node-redis sends PUBLISH to any node (the cluster carries
 * it to every node) and SCRIPT LOAD to every master (so a master that said NOSCRIPT has it after).
 */
const KEYLESS = new Set(['PUBLISH', 'SCRIPT']);

/**
 * The key a command of this client is routed by on a cluster: a script's first key (the keys of one
 * script call all share a slot), the first argument of the key commands it sends (HGETALL, HGET,
 * HMGET, EXISTS, TYPE), none for KEYLESS ones.
 */
function routingKey([name, ...args]) {
  const command = String(name).toUpperCase();
  if (command === 'EVALSHA' || command === 'EVAL') return Number(args[1]) > 0 ? args[2] : undefined;
  return KEYLESS.has(command) ? undefined : args[0];
}

/**
 * A RedisCluster that looks to the rest of the client like a RedisClient: its sendCommand takes
 * (args, options) and sends to the master of the command's key (routingKey), and it emits 'ready' when it
 * has learned the cluster and whenever a node's connection is ready again, 'reconnecting' when one is
 * lost and 'error' for a node's errors too (connect in lib/client.js listens to these). Every node's
 * connection takes the URL's user, password and socket options (createCluster's `defaults`). Nodes
 * are connected on their first command (minimizeConnections), so a subscriber's cluster holds only
 * its pub/sub connection. connect() rejects with why the last root node failed (a refused password
 * is then a ConfigError), not with node-redis's bare "All the root nodes are unavailable".
 */
function clusterConnection(settings, state) {
  const cluster = createCluster({
    rootNodes: settings.cluster.rootNodes,
    defaults: connectionOptions(settings, state),
    minimizeConnections: true,
  });
  const sendCommand = cluster.sendCommand.bind(cluster);
  // isReadonly false: a read goes to the master too, so it sees the writes just made.
  cluster.sendCommand = (args, options) => sendCommand(routingKey(args), false, args, options);
  let lastError = null;
  cluster.on('error', (error) => {
    lastError = error;
  });
  cluster.on('connect', () => cluster.emit('ready'));
  cluster.on('node-ready', () => cluster.emit('ready'));
  cluster.on('node-reconnecting', () => cluster.emit('reconnecting'));
  cluster.on('node-error', (error) => cluster.emit('error', error));
  const connect = cluster.connect.bind(cluster);
  cluster.connect = async () => {
    try {
      return await connect();
    } catch (error) {
      throw error instanceof RootNodesUnavailableError && lastError ? lastError : error;
    }
  };
  return cluster;
}

/** The node-redis object for one connection of a client (not connected yet). */
function createConnection(settings, state) {
  if (settings.cluster) return clusterConnection(settings, state);
  return settings.sentinel ? sentinelConnection(settings, state) : createRedis(connectionOptions(settings, state));
}

/** How many times a durable submit on a cluster goes again after MOVED (the slot changed hands meanwhile). */
const MAX_MOVED = 3;

/**
 * runScript, and with a durability (the URL's durable_replicas) a submit script followed by
 * `WAIT replicas timeout` (see durableOn). Rejects with TaskNotDurableError when fewer replicas had
 * it in time.
 *
 * On a cluster WAIT counts the replicas of the node it reaches, and only for the writes of the
 * connection it comes on, so both go to the connection of the master of the call's slot. That
 * pipeline does not follow redirections: after MOVED (a failover or a resharding moved the slot; the
 * script did not run) a read of the key through the cluster, which follows MOVED and so refreshes
 * node-redis's map of the slots, comes first, and the pipeline goes again to the new master. ASK (the
 * slot is moving right now) is not followed: the submit rejects with it, nothing written.
 */
async function runDurable(redis, call, durability) {
  if (!durability) return runScript(redis, call);
  if (!(redis instanceof RedisCluster)) return durableOn(redis, call, durability);
  const [key] = call.keys;
  for (let moved = 0; ; moved += 1) {
    try {
      return await durableOn(await redis.getNodeClientForKey(key), call, durability);
    } catch (error) {
      if (moved === MAX_MOVED || !String(error?.message).startsWith('MOVED')) throw error;
      await redis.sendCommand(['TYPE', key]);
    }
  }
}

/**
 * The submit script and `WAIT replicas timeout` in one pipeline, on one connection (WAIT counts the
 * replicas that have that connection's writes).
 */
async function durableOn(redis, call, durability) {
  const evalsha = ['EVALSHA', call.spec.sha, String(call.keys.length), ...call.keys, ...call.argv];
  const wait = ['WAIT', String(durability.replicas), String(durability.timeoutMs)];
  for (let loaded = false; ; loaded = true) {
    let replies;
    try {
      replies = await redis.multi().sendCommand(evalsha).sendCommand(wait).execAsPipeline();
    } catch (caught) {
      // A pipeline rejects with its first error (a RedisClient's, a RedisSentinel's) or with all of
      // them (MultiErrorReply); only EVALSHA can say NOSCRIPT.
      const error = Array.isArray(caught?.errorIndexes) ? caught.replies[caught.errorIndexes[0]] : caught;
      if (!loaded && String(error?.message).startsWith('NOSCRIPT')) {
        await redis.sendCommand(['SCRIPT', 'LOAD', call.spec.source]);
        continue;
      }
      throw error;
    }
    const reply = parseReply(call.name, replies[0]);
    const acknowledged = Number(replies[1]);
    const taskId = call.argv[call.spec.argv.indexOf('task_id')] ?? '';
    // ('exists': nothing was written, the caller says so)
    if (acknowledged < durability.replicas && reply.status !== 'exists') {
      throw new TaskNotDurableError(taskId, acknowledged, durability);
    }
    return reply;
  }
}

module.exports = { createConnection, routingKey, runDurable };
