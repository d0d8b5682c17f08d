-- cancel: stop a task. One that is neither executing nor finished (pending, or a state no worker
-- would run) is taken off its queue and finished failed at once; for an executing one the kill is
-- marked in the hash (kill-requested) and the kill command goes to the workers.
-- KEYS: task, pending
-- ARGV: task_id, results_channel, cmd_channel, kill_command, now, reason, default_ttl
-- Returns 'cancelled', 'killing', 'finished' or 'missing' (no task hash).
-- Every check comes before the first write, so an error leaves nothing half done.
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
  return 'missing'
end
local fields = redis.call('HMGET', KEYS[1], 'state', 'result-ttl')
local state, own = fields[1], fields[2]
if not state then
  return 'missing'
end
if state == 'finished' then
  return 'finished'
end
if state == 'executing' then
  redis.call('HSET', KEYS[1], 'kill-requested', ARGV[5])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 'killing'
end
local ttl = tonumber(ARGV[7])
if own and string.match(own, '^%d+$') and #own <= 10 then
  ttl = tonumber(own)
end
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'finished', 'result', 'failed',
  'error-reason', ARGV[6], 'finished-created', ARGV[5])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
end
redis.call('PUBLISH', ARGV[2], KEYS[1])
return 'cancelled'
