-- claim: a worker takes a task whose id it has just moved from pending to executing.
-- KEYS: task, executing, pending, scheduled
-- ARGV: task_id, worker_id, queue, now, max_args_bytes
-- Returns one of these, each followed by the pending list's length (so the worker knows whether
-- to take more at once or wait):
--   {'run', function, args, virtual-memory-limit, result-ttl, attempt, retries, timeout, n}
--                                                  claimed; run it
--   {'invalid', state, function, attempt, n}       claimed, but it cannot run; the worker fails it
--   {'toobig', function, size, attempt, n}         claimed, but its args are over max_args_bytes
--   {'skip', state, n}                 another worker runs it, it is finished, or it waits in the
--                                      scheduled set (an id pushed twice); id dropped
--   {'missing', n}                     no such key; id dropped
--   {'wrongtype', type, n}             the key is not a hash (not a task); id dropped, key untouched
-- A claim counts an attempt. The same claim made again (the worker's retry after the reply was lost:
-- the task executing under this worker since this very claim time) writes nothing and answers as
-- the claim did. Every check comes before the first write, so an error leaves nothing half done.
local backlog = redis.call('LLEN', KEYS[3])
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'hash' then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  if kind == 'none' then
    return {'missing', backlog}
  end
  return {'wrongtype', kind, backlog}
end
local f = redis.call('HMGET', KEYS[1], 'state', 'function', 'args', 'virtual-memory-limit', 'result-ttl',
  'attempt', 'retries', 'timeout', 'orphan-since', 'worker', 'executing-created')
local state, fn, args = f[1], f[2], f[3]
local again = state == 'executing' and f[10] == ARGV[2] and f[11] == ARGV[4]
if (state == 'executing' and not again) or state == 'finished'
    or (state == 'scheduled' and redis.call('ZSCORE', KEYS[4], ARGV[1])) then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  return {'skip', state, backlog}
end
local attempt = tonumber(f[6])
if not attempt or attempt < 0 or attempt > 1000000 or attempt % 1 ~= 0 then
  attempt = 0
end
if not again then
  attempt = attempt + 1
  redis.call('HSET', KEYS[1], 'state', 'executing', 'executing-created', ARGV[4],
    'worker', ARGV[2], 'queue', ARGV[3], 'attempt', attempt)
  if f[9] then
    redis.call('HDEL', KEYS[1], 'orphan-since')
  end
end
if (state ~= 'pending' and not again) or not fn or fn == '' then
  return {'invalid', state or '', fn or '', attempt, backlog}
end
if args and #args > tonumber(ARGV[5]) then
  return {'toobig', fn, #args, attempt, backlog}
end
return {'run', fn, args or '', f[4] or '', f[5] or '', attempt, f[7] or '', f[8] or '', backlog}
