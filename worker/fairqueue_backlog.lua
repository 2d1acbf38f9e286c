-- Messages a queue's fair lines hold for base ARGV[1]: {in line per tenant, waiting on a due time,
-- dispatched but not finished}.
local base = ARGV[1]
local in_line = 0
for _, tenant in ipairs(redis.call('LRANGE', base .. 'ring', 0, -1)) do
  in_line = in_line + redis.call('LLEN', base .. 't:' .. tenant)
end
return {in_line, redis.call('ZCARD', base .. 'wake'), redis.call('ZCARD', base .. 'lease')}
