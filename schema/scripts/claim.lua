-- claim: a worker takes a task whose id it has just moved from pending to executing.
-- KEYS: task, executing, pending
-- ARGV: task_id, worker_id, queue, now, max_args_bytes
-- Returns one of these, each followed by the pending list's length (so the worker knows whether
-- to take more at once or wait):
--   {'run', function, args, virtual-memory-limit, result-ttl, n}  claimed; run it
--   {'invalid', state, function, n}    claimed, but it cannot run; the worker fails it
--   {'toobig', function, size, n}      claimed, but its args are over max_args_bytes; the worker fails it
--   {'skip', state, n}                 another worker runs it or it is finished; id dropped
--   {'missing', n}                     no such key; id dropped
--   {'wrongtype', type, n}             the key is not a hash (not a task); id dropped, key untouched
-- Every check comes before the first write, so an error leaves nothing half done.
local backlog = redis.call('LLEN', KEYS[3])
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'hash' then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  if kind == 'none' then
    return {'missing', backlog}
  end
  return {'wrongtype', kind, backlog}
end
local fields = redis.call('HMGET', KEYS[1], 'state', 'function', 'args', 'virtual-memory-limit', 'result-ttl')
local state, fn, args, vml, ttl = fields[1], fields[2], fields[3], fields[4], fields[5]
if state == 'executing' or state == 'finished' then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  return {'skip', state, backlog}
end
redis.call('HSET', KEYS[1], 'state', 'executing', 'executing-created', ARGV[4],
  'worker', ARGV[2], 'queue', ARGV[3])
if state ~= 'pending' or not fn or fn == '' then
  return {'invalid', state or '', fn or '', backlog}
end
if args and #args > tonumber(ARGV[5]) then
  return {'toobig', fn, #args, backlog}
end
return {'run', fn, args or '', vml or '', ttl or '', backlog}
