-- cancel: stop a task. A pending task is taken off its queue and finished failed at once;
-- for an executing one the kill command goes to the workers.
-- KEYS: task, pending
-- ARGV: task_id, results_channel, cmd_channel, kill_command, now, reason
-- Returns 'cancelled' (was pending), 'killing' (kill command sent), 'finished' or 'missing'.
local fields = redis.call('HMGET', KEYS[1], 'state', 'result-ttl')
local state, ttl = fields[1], tonumber(fields[2])
if not state then
  return 'missing'
end
if state == 'executing' then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 'killing'
end
if state ~= 'pending' then
  return state
end
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'finished', 'result', 'failed',
  'error-reason', ARGV[6], 'finished-created', ARGV[5])
if ttl and ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
end
redis.call('PUBLISH', ARGV[2], KEYS[1])
return 'cancelled'
