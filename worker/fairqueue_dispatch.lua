-- One turn of a queue's fair dispatcher (see worker/fairqueue.py).
-- ARGV: base, the queue's broker list key, depth, lease ms of a message not yet started (it may wait in the
--       broker that long), most entries to move per kind of work.
-- 1. wake-ups now due move from the due-time index to the end of their tenant's list;
-- 2. tickets whose lease lapsed (their worker died before finishing) go back to the front of theirs;
-- 3. while the broker's list is shorter than `depth`, take one entry from each tenant in turn.
-- Returns {recovered, ticket1, entry1, ticket2, entry2, ...}: the caller publishes each with its ticket.
local base, broker_list = ARGV[1], ARGV[2]
local depth, lease, most = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ring = base .. 'ring'

local function tenant_of(entry)
  return cjson.decode(entry)['tenant']
end

local due = redis.call('ZRANGEBYSCORE', base .. 'wake', '-inf', now, 'LIMIT', 0, most)
for _, entry in ipairs(due) do
  redis.call('ZREM', base .. 'wake', entry)
  local tenant = tenant_of(entry)
  if redis.call('RPUSH', base .. 't:' .. tenant, entry) == 1 then
    redis.call('RPUSH', ring, tenant)
  end
end

local recovered = 0
local lapsed = redis.call('ZRANGEBYSCORE', base .. 'lease', '-inf', now, 'LIMIT', 0, most)
for _, ticket in ipairs(lapsed) do
  local entry = redis.call('HGET', base .. 'held', ticket)
  redis.call('ZREM', base .. 'lease', ticket)
  redis.call('HDEL', base .. 'held', ticket)
  if entry then
    local tenant = tenant_of(entry)
    if redis.call('LPUSH', base .. 't:' .. tenant, entry) == 1 then
      redis.call('RPUSH', ring, tenant)
    end
    recovered = recovered + 1
  end
end

local out = {recovered}
local room = depth - redis.call('LLEN', broker_list)
while room > 0 do
  local tenant = redis.call('LPOP', ring)
  if not tenant then break end
  local list = base .. 't:' .. tenant
  local entry = redis.call('LPOP', list)
  if entry then
    if redis.call('LLEN', list) > 0 then
      redis.call('RPUSH', ring, tenant)
    end
    local ticket = tostring(redis.call('INCR', base .. 'seq'))
    redis.call('HSET', base .. 'held', ticket, entry)
    redis.call('ZADD', base .. 'lease', now + lease, ticket)
    out[#out + 1] = ticket
    out[#out + 1] = entry
    room = room - 1
  end
end
return out
