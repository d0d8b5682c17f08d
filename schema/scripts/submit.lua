-- submit: create a task hash and queue its id, or schedule it, atomically.
-- KEYS: task, pending, scheduled
-- ARGV: task_id, due_ms, cmd_channel, scheduled_command, field_values...
-- Returns 1 when queued (due_ms empty: LPUSH pending; else ZADD scheduled at due_ms and the scheduled
-- command published, so idle workers look again), 0 when the task hash already exists (then
-- nothing is written).
local due = ARGV[2] ~= '' and tonumber(ARGV[2])
if ARGV[2] ~= '' and not due then
  return redis.error_reply('due_ms must be a number')
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
if due then
  redis.call('ZADD', KEYS[3], due, ARGV[1])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
else
  redis.call('LPUSH', KEYS[2], ARGV[1])
end
return 1
