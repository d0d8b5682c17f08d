-- submit: create a task hash and queue its id, atomically.
-- KEYS: task, pending
-- ARGV: task_id, field_values...
-- Returns 1 when queued, 0 when the task hash already exists (then nothing is written).
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1
