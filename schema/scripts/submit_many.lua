-- submit_many: create many task hashes and queue or schedule their ids, all or none, atomically.
-- KEYS: pending, scheduled, task*
-- ARGV: cmd_channel, scheduled_command, count, common_fields, tasks*
-- One task key per task, in the order of the tasks. common_fields is a JSON object of the fields
-- every task gets; tasks* holds per task its task_id, due_ms, the number n of its own fields, and n
-- field/value pairs (2n items), which win over common_fields.
-- Returns {'queued', count} when every task was written: hashes as the submit script writes them,
-- the queued ids LPUSHed in the order given (so a worker takes them in that order), the scheduled
-- ones ZADDed and the scheduled command published once; or {'exists', ids as a JSON array} when any
-- task hash already exists, and then nothing is written. Everything is checked before the first
-- write.
local count = tonumber(ARGV[3])
if not count or count < 1 or count ~= #KEYS - 2 then
  return redis.error_reply('count must be the number of task keys')
end
local ok, common = pcall(cjson.decode, ARGV[4])
if not ok or type(common) ~= 'table' then
  return redis.error_reply('common_fields must be a JSON object')
end
local base = {}
for field, value in pairs(common) do
  if type(field) ~= 'string' or type(value) ~= 'string' then
    return redis.error_reply('common_fields must map names to strings')
  end
  base[#base + 1] = field
  base[#base + 1] = value
end
local starts, dues = {}, {}
local at = 5
for i = 1, count do
  if at + 2 > #ARGV then
    return redis.error_reply('ARGV ends before its last task')
  end
  local due = ARGV[at + 1] ~= '' and tonumber(ARGV[at + 1])
  if ARGV[at + 1] ~= '' and not due then
    return redis.error_reply('due_ms must be a number')
  end
  local n = tonumber(ARGV[at + 2])
  if not n or n < 0 or n ~= math.floor(n) or (n == 0 and #base == 0) then
    return redis.error_reply('a task needs a whole number of fields, and at least one field')
  end
  starts[i], dues[i] = at, due
  at = at + 3 + 2 * n
end
if at - 1 ~= #ARGV then
  return redis.error_reply('ARGV does not match the field counts of its tasks')
end
local existing = {}
for i = 1, count do
  if redis.call('EXISTS', KEYS[i + 2]) == 1 then
    existing[#existing + 1] = ARGV[starts[i]]
  end
end
if #existing > 0 then
  return {'exists', cjson.encode(existing)}
end
local queued, scheduled = {}, false
for i = 1, count do
  local first = starts[i]
  local fields = {unpack(base)}
  for j = first + 3, first + 2 + 2 * tonumber(ARGV[first + 2]) do
    fields[#fields + 1] = ARGV[j]
  end
  redis.call('HSET', KEYS[i + 2], unpack(fields))
  if dues[i] then
    redis.call('ZADD', KEYS[2], dues[i], ARGV[first])
    scheduled = true
  else
    queued[#queued + 1] = ARGV[first]
    if #queued == 1000 then
      redis.call('LPUSH', KEYS[1], unpack(queued))
      queued = {}
    end
  end
end
if #queued > 0 then
  redis.call('LPUSH', KEYS[1], unpack(queued))
end
if scheduled then
  redis.call('PUBLISH', ARGV[1], ARGV[2])
end
return {'queued', count}
