-- requeue: run a failed task again. Its failure joins the history in errors, its result fields and
-- attempt count go, it no longer expires, and it is pushed on pending as a new task would be.
-- KEYS: task, pending, failed
-- ARGV: task_id
-- Returns 'requeued', 'not_failed' (it is not a finished, failed task: nothing changed) or 'missing'.
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
  return 'missing'
end
local f = redis.call('HMGET', KEYS[1], 'state', 'result', 'attempt', 'error-reason', 'finished-created', 'errors',
  'worker', 'error-exception')
if f[1] ~= 'finished' or f[2] ~= 'failed' then
  return 'not_failed'
end
local decoded, errors = pcall(cjson.decode, f[6] or '[]')
if not decoded or type(errors) ~= 'table' or (next(errors) ~= nil and #errors == 0) then
  errors = {}
end
local entry = {attempt = tonumber(f[3]) or 0, reason = f[4] or '', at = f[5] or ''}
if f[7] then
  entry.worker = f[7]
end
if f[8] and #f[8] > 0 then  -- its last 4000 bytes, from the start of a UTF-8 character
  entry.exception = (string.gsub(string.sub(f[8], -4000), '^[\128-\191]+', ''))
end
table.insert(errors, entry)
while #errors > 10 do
  table.remove(errors, 1)
end
redis.call('HDEL', KEYS[1], 'result', 'result-value', 'error-reason', 'error-exception', 'finished-created',
  'worker', 'executing-created', 'kill-requested', 'orphan-since', 'attempt', 'progress')
redis.call('HSET', KEYS[1], 'state', 'pending', 'errors', cjson.encode(errors))
redis.call('PERSIST', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[1])
return 'requeued'
