-- recover: look at one id on executing and give back the task of a worker that is gone.
-- KEYS: task, executing, pending, failed, owner
-- ARGV: task_id, owner_id, now, grace_ms, default_retries, reason, results_channel, default_ttl, cancelled_reason, owner_alive
-- owner is the key of the worker the caller read in the task's worker field (owner_id; empty when
-- there was none). A task has no live owner when its worker hash is gone, or when it was popped but
-- never claimed (state pending). Such a task is marked (orphan-since) the first time and handled only
-- when the mark is at least grace_ms old and the owner still gone: a worker that is alive renews its
-- hash long before, and its mark is taken off. The id of a task that is already finished (cancelled
-- while its worker was dead) is dropped. A task a client asked to kill (kill-requested) is not given
-- back: it is finished failed with cancelled_reason.
-- owner_alive is empty to look at the owner key here; on Redis Cluster, where the worker's key sits in
-- another slot, the caller looks (EXISTS) just before and says 1 or 0, and owner is the task key
-- (a key of this slot the script does not read as an owner).
-- Returns 'alive', 'marked', 'waiting', 'requeued' (a popped or an orphaned task with attempts left:
-- RPUSH pending, taken next; the error appended to errors), 'failed' (attempts used: finished failed
-- with the reason, expired, indexed, published), 'gone' (another recovery took it), 'legacy' (run by a
-- legacy worker, which writes no worker field: never touched), 'dropped' (not a task hash, or finished:
-- id taken off executing), 'skip' (the owner changed, or the state is not one to recover).
-- Marks and their age are read on the Redis server's clock, so workers whose clocks disagree agree.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local grace = tonumber(ARGV[4])
local default_retries = tonumber(ARGV[5])
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'hash' then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  return 'dropped'
end
local f = redis.call('HMGET', KEYS[1], 'state', 'worker', 'attempt', 'retries', 'orphan-since', 'errors',
  'result-ttl', 'kill-requested')
local state, worker, since = f[1], f[2], tonumber(f[5])
if state == 'finished' then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  return 'dropped'
end
if state == 'executing' and not worker then
  return 'legacy'
end
if state == 'executing' then
  if worker ~= ARGV[2] then
    return 'skip'
  end
  local told = tonumber(ARGV[10])
  local alive = (told and told > 0) or (not told and redis.call('EXISTS', KEYS[5]) == 1)
  if alive then
    if f[5] then
      redis.call('HDEL', KEYS[1], 'orphan-since')
    end
    return 'alive'
  end
elseif state ~= 'pending' then
  return 'skip'
end
if not since then
  if not redis.call('LPOS', KEYS[2], ARGV[1]) then  -- another recovery gave it back since the caller looked
    return 'gone'
  end
  redis.call('HSET', KEYS[1], 'orphan-since', now)
  return 'marked'
end
if now - since < grace then
  return 'waiting'
end
if redis.call('LREM', KEYS[2], 1, ARGV[1]) == 0 then
  redis.call('HDEL', KEYS[1], 'orphan-since')
  return 'gone'
end
redis.call('HDEL', KEYS[1], 'orphan-since')
if state == 'pending' then  -- popped but never claimed: no attempt was used
  redis.call('RPUSH', KEYS[3], ARGV[1])
  return 'requeued'
end
local attempt = tonumber(f[3]) or 1
local retries = tonumber(f[4]) or default_retries
local attempts = attempt
if attempt < 1 + retries then
  attempts = 1 + retries
end
local function escaped(text)
  return (string.gsub(tostring(text), '%%', '%%%%'))
end
local template = ARGV[6]
if f[8] then
  template = ARGV[9]
end
local reason = string.gsub(template, '{worker}', escaped(worker))
reason = string.gsub(reason, '{attempt}', escaped(attempt))
reason = string.gsub(reason, '{attempts}', escaped(attempts))
local decoded, errors = pcall(cjson.decode, f[6] or '[]')
if not decoded or type(errors) ~= 'table' or (next(errors) ~= nil and #errors == 0) then
  errors = {}
end
table.insert(errors, {attempt = attempt, worker = worker, reason = reason, at = ARGV[3]})
while #errors > 10 do
  table.remove(errors, 1)
end
if attempt < 1 + retries and not f[8] then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'errors', cjson.encode(errors))
  redis.call('HDEL', KEYS[1], 'worker', 'executing-created', 'kill-requested')
  redis.call('RPUSH', KEYS[3], ARGV[1])
  return 'requeued'
end
local ttl = tonumber(ARGV[8])
if f[7] and string.match(f[7], '^%d+$') and #f[7] <= 10 then
  ttl = tonumber(f[7])
end
redis.call('HSET', KEYS[1], 'state', 'finished', 'result', 'failed', 'error-reason', reason,
  'finished-created', ARGV[3], 'errors', cjson.encode(errors))
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
end
redis.call('ZADD', KEYS[4], now, ARGV[1])
redis.call('PUBLISH', ARGV[7], KEYS[1])
return 'failed'
