-- Messages a queue's fair dispatcher still holds for base ARGV[1]: queued per tenant, waiting on a due
-- time, and dispatched but not finished.
local base = ARGV[1]
local total = redis.call('ZCARD', base .. 'wake') + redis.call('ZCARD', base .. 'lease')
for _, tenant in ipairs(redis.call('LRANGE', base .. 'ring', 0, -1)) do
  total = total + redis.call('LLEN', base .. 't:' .. tenant)
end
return total
