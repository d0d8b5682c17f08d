-- claim: a worker takes a task whose id it has just moved from pending to executing.
-- KEYS: task, executing, pending
-- ARGV: task_id, worker_id, queue, now
-- Returns one of these, each followed by the pending list's length (so the worker knows whether
-- to take more at once or wait):
--   {'run', function, args, virtual-memory-limit, n}  claimed; run it
--   {'invalid', state, function, n}                   claimed, but it cannot run; the worker fails it
--   {'skip', state, n}                                another worker runs it or it is finished; id dropped
--   {'missing', n}                                    no such hash; id dropped
local backlog = redis.call('LLEN', KEYS[3])
local fields = redis.call('HMGET', KEYS[1], 'state', 'function', 'args', 'virtual-memory-limit')
local state, fn, args, vml = fields[1], fields[2], fields[3], fields[4]
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  return {'missing', backlog}
end
if state == 'executing' or state == 'finished' then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  return {'skip', state, backlog}
end
redis.call('HSET', KEYS[1], 'state', 'executing', 'executing-created', ARGV[4],
  'worker', ARGV[2], 'queue', ARGV[3])
if state ~= 'pending' or not fn or fn == '' then
  return {'invalid', state or '', fn or '', backlog}
end
return {'run', fn, args or '', vml or '', backlog}
