'use strict';
// The node-redis object one client connection is: a RedisClient for redis://, rediss:// and
// unix:// URLs, a RedisSentinel for a redis+sentinel:// URL (it asks the sentinels for the master,
// moves its commands and subscriptions to a new master after a failover, and sends again a command
// that met READONLY); and the one submit that waits for replicas (WAIT) when the URL asks for it.

const { createClient: createRedis, createSentinel } = require('@redis/client');
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

/** The node-redis object for one connection of a client (not connected yet). */
function createConnection(settings, state) {
  return settings.sentinel ? sentinelConnection(settings, state) : createRedis(connectionOptions(settings, state));
}

/**
 * runScript, and with a durability (the URL's durable_replicas) a submit script followed by
 * `WAIT replicas timeout` in one pipeline, on one connection (WAIT counts the replicas that have
 * that connection's writes). Rejects with TaskNotDurableError when fewer replicas had it in time.
 */
async function runDurable(redis, call, durability) {
  if (!durability) return runScript(redis, call);
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

module.exports = { createConnection, runDurable };
