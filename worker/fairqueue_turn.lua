-- The dispatcher's turn for one queue, prepended to every fair-line script (see worker/fairqueue.py), so
-- a submit, a finish or a tick takes its turn in the same call instead of a second round trip.
-- turn(base, broker list key, depth, lease ms of a message not yet started (it may wait in the broker
-- that long), most entries to move per kind of work, now ms):
-- 1. wake-ups now due move from the due-time index to the end of their tenant's list;
-- 2. tickets whose lease lapsed (their worker died before finishing) go back to the front of theirs;
-- 3. while the broker's list is shorter than `depth`, take one entry from each tenant in turn.
-- Returns {recovered, ticket1, entry1, ticket2, entry2, ...}: the caller publishes each with its ticket.
local function now_ms()
  local t = redis.call('TIME')  -- Redis's clock for every due time and lease: workers' clocks may differ
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function line_up(base, tenant, entry, front)
  if redis.call(front and 'LPUSH' or 'RPUSH', base .. 't:' .. tenant, entry) == 1 then
    redis.call('RPUSH', base .. 'ring', tenant)
  end
end

local function turn(base, broker_list, depth, lease, most, now)
  local due = redis.call('ZRANGEBYSCORE', base .. 'wake', '-inf', now, 'LIMIT', 0, most)
  for _, entry in ipairs(due) do
    redis.call('ZREM', base .. 'wake', entry)
    line_up(base, cjson.decode(entry)['tenant'], entry, false)
  end

  local recovered = 0
  local lapsed = redis.call('ZRANGEBYSCORE', base .. 'lease', '-inf', now, 'LIMIT', 0, most)
  for _, ticket in ipairs(lapsed) do
    local entry = redis.call('HGET', base .. 'held', ticket)
    redis.call('ZREM', base .. 'lease', ticket)
    redis.call('HDEL', base .. 'held', ticket)
    if entry then
      line_up(base, cjson.decode(entry)['tenant'], entry, true)
      recovered = recovered + 1
    end
  end

  local out = {recovered}
  local room = depth - redis.call('LLEN', broker_list)
  while room > 0 do
    local tenant = redis.call('LPOP', base .. 'ring')
    if not tenant then break end
    local list = base .. 't:' .. tenant
    local entry = redis.call('LPOP', list)
    if entry then
      if redis.call('LLEN', list) > 0 then
        redis.call('RPUSH', base .. 'ring', tenant)
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
end
