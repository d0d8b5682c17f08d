-- promote: a scheduled task whose time has come goes to pending. Any number of workers may try the
-- same task at once: only the one whose ZREM takes it off scheduled moves it.
-- KEYS: task, scheduled, pending
-- ARGV: task_id
-- Returns 1 promoted (state pending, LPUSH pending), 0 already promoted or cancelled, -1 its state is
-- not scheduled (taken off scheduled, left alone), -2 the key is not a hash (taken off scheduled).
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then
  return 0
end
if redis.call('TYPE', KEYS[1])['ok'] ~= 'hash' then
  return -2
end
if redis.call('HGET', KEYS[1], 'state') ~= 'scheduled' then
  return -1
end
redis.call('HSET', KEYS[1], 'state', 'pending')
redis.call('LPUSH', KEYS[3], ARGV[1])
return 1
