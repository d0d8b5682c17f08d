-- finish: record a task's result, drop its id from executing, publish its hash key.
-- KEYS: task, executing
-- ARGV: task_id, worker_id, results_channel, default_ttl, field_values...
-- Returns 1 finished and published, 0 the hash is gone (its id is dropped from executing), -1 the
-- task is no longer this worker's to finish (state is not executing, or another worker took it);
-- then nothing is touched, not even executing, whose entry is no longer this worker's either.
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  return 0
end
local owner = redis.call('HMGET', KEYS[1], 'state', 'worker', 'result-ttl')
if owner[1] ~= 'executing' or owner[2] ~= ARGV[2] then
  return -1
end
redis.call('LREM', KEYS[2], 1, ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
local ttl = tonumber(owner[3] or ARGV[4]) or tonumber(ARGV[4])
if ttl and ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
end
redis.call('PUBLISH', ARGV[3], KEYS[1])
return 1
