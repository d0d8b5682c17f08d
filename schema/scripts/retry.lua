-- retry: a failed run with retries left: record its error, and schedule the task again.
-- KEYS: task, executing, scheduled
-- ARGV: task_id, worker_id, attempt, due_ms, error_json, cmd_channel, scheduled_command, field_values...
-- Returns 1 scheduled at due_ms (error_json appended to errors, at most the last 10 kept, and the
-- scheduled command published), 0 the hash is gone (id dropped from executing), -1 the task is no
-- longer this worker's run (nothing touched), -2 the key is not a hash (id dropped from executing).
-- Every check comes before the first write, so an error leaves nothing half done.
local due = tonumber(ARGV[4])
local ok, entry = pcall(cjson.decode, ARGV[5])
if not due or not ok or type(entry) ~= 'table' then
  return redis.error_reply('due_ms must be a number and error_json a JSON object')
end
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'hash' then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  if kind == 'none' then
    return 0
  end
  return -2
end
local owner = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt', 'errors')
if owner[1] ~= 'executing' or owner[2] ~= ARGV[2] or owner[3] ~= ARGV[3] then
  return -1
end
local decoded, errors = pcall(cjson.decode, owner[4] or '[]')
if not decoded or type(errors) ~= 'table' or (next(errors) ~= nil and #errors == 0) then
  errors = {}  -- not a list written by doshit: start the history again
end
table.insert(errors, entry)
while #errors > 10 do
  table.remove(errors, 1)
end
redis.call('LREM', KEYS[2], 1, ARGV[1])
redis.call('HSET', KEYS[1], 'errors', cjson.encode(errors), unpack(ARGV, 8))
redis.call('HDEL', KEYS[1], 'worker', 'executing-created', 'kill-requested', 'orphan-since')
redis.call('ZADD', KEYS[3], due, ARGV[1])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
