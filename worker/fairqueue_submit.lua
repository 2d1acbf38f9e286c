-- Hand a step's message to its queue's fair lines, now or at a due time, and take the queue's turn.
-- ARGV: base (prefix .. 'fq:' .. queue .. ':'), broker list key, depth, lease ms of a message not yet
--       started, most per turn, registry set key, queue, tenant, entry, delay ms ('' = now), ticket that
--       this message replaces ('' = none: it ends in this call, so a crash can neither lose the job nor
--       leave it held twice).
-- Keys are built from ARGV: a tenant's list is made on demand (kombu has no Redis Cluster support, so
-- every key lives on the one server anyway).
local base, broker_list = ARGV[1], ARGV[2]
local depth, lease, most = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local registry, queue, tenant, entry, delay, done = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
if done ~= '' then
  redis.call('ZREM', base .. 'lease', done)
  redis.call('HDEL', base .. 'held', done)
end
redis.call('SADD', registry, queue)
local now = now_ms()
if delay ~= '' and tonumber(delay) > 0 then
  redis.call('ZADD', base .. 'wake', now + tonumber(delay), entry)
else
  line_up(base, tenant, entry, false)
end
return turn(base, broker_list, depth, lease, most, now)
