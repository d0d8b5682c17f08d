-- finish: record a task's result, drop its id from executing, publish its hash key.
-- KEYS: task, executing, failed
-- ARGV: task_id, worker_id, attempt, results_channel, default_ttl, failed_at_ms, field_values...
-- Returns 1 finished and published (a failed task also indexed in failed at failed_at_ms), 0 the
-- hash is gone (its id is dropped from executing), -1 the task is no longer this worker's run to
-- finish (state is not executing, or another worker or a later attempt owns it): then nothing is
-- touched, not even executing, whose entry is no longer this run's either; -2 the key is not a hash
-- (its id is dropped from executing, the key left alone).
-- Every check comes before the first write, so an error leaves nothing half done.
local failed_at = ARGV[6] ~= '' and tonumber(ARGV[6])
if ARGV[6] ~= '' and not failed_at then
  return redis.error_reply('failed_at_ms must be a number')
end
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'hash' then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  if kind == 'none' then
    return 0
  end
  return -2
end
local owner = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt', 'result-ttl', 'orphan-since')
if owner[1] ~= 'executing' or owner[2] ~= ARGV[2] or owner[3] ~= ARGV[3] then
  return -1
end
-- The task's own result-ttl when it is a plain number EXPIRE takes (the worker refused a task whose
-- result-ttl was out of range when it claimed it; this only guards against a later change).
local ttl = tonumber(ARGV[5])
if owner[4] and string.match(owner[4], '^%d+$') and #owner[4] <= 10 then
  ttl = tonumber(owner[4])
end
redis.call('LREM', KEYS[2], 1, ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
if owner[5] then
  redis.call('HDEL', KEYS[1], 'orphan-since')
end
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
end
if failed_at then
  redis.call('ZADD', KEYS[3], failed_at, ARGV[1])
end
redis.call('PUBLISH', ARGV[4], KEYS[1])
return 1
