-- Hand a step's message to its queue's fair dispatcher, now or at a due time (see worker/fairqueue.py).
-- ARGV: base (prefix .. 'fq:' .. queue .. ':'), registry set key, queue, tenant, entry, delay ms ('' = now),
--       ticket that this message replaces ('' = none).
-- Keys are built from ARGV: a tenant's list is made on demand (kombu has no Redis Cluster support, so
-- every key lives on the one server anyway).
local base, registry, queue, tenant, entry, delay, done = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if done ~= '' then
  redis.call('ZREM', base .. 'lease', done)
  redis.call('HDEL', base .. 'held', done)
end
redis.call('SADD', registry, queue)
if delay ~= '' and tonumber(delay) > 0 then
  local t = redis.call('TIME')  -- Redis's clock, as the dispatcher's: workers' clocks may differ
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', base .. 'wake', now + tonumber(delay), entry)
  return 0
end
if redis.call('RPUSH', base .. 't:' .. tenant, entry) == 1 then
  redis.call('RPUSH', base .. 'ring', tenant)
end
return 1
