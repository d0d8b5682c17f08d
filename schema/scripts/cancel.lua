-- cancel: stop a task. One that is not executing (pending, scheduled, or a state no worker would run),
-- or that executes under a worker that is gone, is finished failed at once (taken off pending or
-- scheduled; an id left on executing is dropped by the next recovery round, so a client needs no
-- access to executing); for one a live worker runs, the kill is marked in the hash (kill-requested)
-- and the kill command goes to the workers.
-- KEYS: task, pending, scheduled, failed
-- ARGV: task_id, owner_id, owner_gone, results_channel, cmd_channel, kill_command, now, now_ms, reason, orphan_reason, default_ttl
-- owner_id is the task's worker field when the caller read it, owner_gone '1' when that worker's key
-- did not exist then (a producer may only read worker keys, and a script must be allowed to write
-- every key it is given). The worker is taken for dead only when, besides, a recovery round found it
-- gone before (orphan-since): a worker hash can be missing for a moment from a live worker (Redis
-- restarted without its data, until the next heartbeat). A task whose worker just died gets the kill
-- mark, and the recovery finishes it with orphan_reason instead of giving it back.
-- Returns 'cancelled', 'killing', 'finished' or 'missing' (no task hash).
-- Every check comes before the first write, so an error leaves nothing half done.
local now_ms = tonumber(ARGV[8])
if not now_ms then
  return redis.error_reply('now_ms must be a number')
end
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
  return 'missing'
end
local fields = redis.call('HMGET', KEYS[1], 'state', 'result-ttl', 'worker', 'orphan-since')
local state, own = fields[1], fields[2]
if not state then
  return 'missing'
end
if state == 'finished' then
  return 'finished'
end
if state == 'executing' then
  local dead = fields[3] and fields[3] == ARGV[2] and tonumber(ARGV[3]) == 1 and fields[4]
  if not dead then
    redis.call('HSET', KEYS[1], 'kill-requested', ARGV[7])
    redis.call('PUBLISH', ARGV[5], ARGV[6])
    return 'killing'
  end
end
local reason = ARGV[9]
if state == 'executing' then  -- in case the worker lives after all: its run stops, its result is refused
  reason = ARGV[10]
  redis.call('PUBLISH', ARGV[5], ARGV[6])
end
local ttl = tonumber(ARGV[11])
if own and string.match(own, '^%d+$') and #own <= 10 then
  ttl = tonumber(own)
end
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[1], 'orphan-since')
redis.call('HSET', KEYS[1], 'state', 'finished', 'result', 'failed',
  'error-reason', reason, 'finished-created', ARGV[7])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
end
redis.call('ZADD', KEYS[4], now_ms, ARGV[1])
redis.call('PUBLISH', ARGV[4], KEYS[1])
return 'cancelled'
