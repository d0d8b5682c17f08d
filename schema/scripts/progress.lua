-- progress: record how far a running task got, for the run that reports it only.
-- KEYS: task
-- ARGV: task_id, worker_id, attempt, value
-- Returns 1 when written, 0 when the task is not that run any more (finished, taken over, gone).
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
  return 0
end
local f = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt')
if f[1] ~= 'executing' or f[2] ~= ARGV[2] or f[3] ~= ARGV[3] then
  return 0
end
redis.call('HSET', KEYS[1], 'progress', ARGV[4])
return 1
