-- finish: record a task's result, drop its id from executing, publish its hash key.
-- KEYS: task, executing
-- ARGV: task_id, worker_id, results_channel, default_ttl, field_values...
-- Returns 1 finished and published, 0 the hash is gone (its id is dropped from executing), -1 the
-- task is no longer this worker's to finish (state is not executing, or another worker took it);
-- then nothing is touched, not even executing, whose entry is no longer this worker's either; -2 the
-- key is not a hash (its id is dropped from executing, the key left alone).
-- Every check comes before the first write, so an error leaves nothing half done.
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'hash' then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  if kind == 'none' then
    return 0
  end
  return -2
end
local owner = redis.call('HMGET', KEYS[1], 'state', 'worker', 'result-ttl')
if owner[1] ~= 'executing' or owner[2] ~= ARGV[2] then
  return -1
end
-- The task's own result-ttl when it is a plain number EXPIRE takes (the worker refused a task whose
-- result-ttl was out of range when it claimed it; this only guards against a later change).
local ttl = tonumber(ARGV[4])
if owner[3] and string.match(owner[3], '^%d+$') and #owner[3] <= 10 then
  ttl = tonumber(owner[3])
end
redis.call('LREM', KEYS[2], 1, ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
end
redis.call('PUBLISH', ARGV[3], KEYS[1])
return 1
