-- unclaim: give back a task this worker claimed but never started (it was waiting for a free
-- slot when the worker shut down). It goes to the right end of pending, so it is taken next, and
-- its claim does not count as an attempt.
-- KEYS: task, executing, pending
-- ARGV: task_id, worker_id
-- Returns 1 when given back, 0 when the task was not this worker's to give back.
local fields = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt')
if fields[1] ~= 'executing' or fields[2] ~= ARGV[2] then
  return 0
end
local attempt = tonumber(fields[3])
redis.call('HSET', KEYS[1], 'state', 'pending')
redis.call('HDEL', KEYS[1], 'executing-created', 'worker')
if attempt and attempt > 1 then
  redis.call('HSET', KEYS[1], 'attempt', attempt - 1)
else
  redis.call('HDEL', KEYS[1], 'attempt')
end
redis.call('LREM', KEYS[2], 1, ARGV[1])
redis.call('RPUSH', KEYS[3], ARGV[1])
return 1
