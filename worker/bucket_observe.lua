-- Correct a tenant's bucket from the vendor's response headers.
-- KEYS[1] bucket hash; ARGV: capacity or '', rate or '', remaining or '', request cost or '',
-- refund or '' (points of the charge taken before the request that the vendor did not keep),
-- the time in ms or '' (Redis TIME).
local t = redis.call('TIME')
local now = tonumber(ARGV[6]) or tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- A size learnt larger than the one the bucket was counting against (a guess, or a bucket expired while
-- idle): the difference was never spent, so the tokens grow with it (still capped by `remaining` below).
local counted = tonumber(redis.call('HGET', KEYS[1], 'capacity'))
local grown = 0
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], 'capacity', ARGV[1])
  if counted and tonumber(ARGV[1]) > counted then grown = tonumber(ARGV[1]) - counted end
end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'rate', ARGV[2]) end
if ARGV[4] ~= '' then
  -- a moving average: requests differ in price (relations, writes)
  local old = tonumber(redis.call('HGET', KEYS[1], 'cost'))
  local new = tonumber(ARGV[4])
  if old then new = old * 0.8 + new * 0.2 end
  redis.call('HSET', KEYS[1], 'cost', new)
end
if ARGV[5] ~= '' then
  local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'capacity', 'rate')
  if stored[1] and stored[2] and stored[3] and stored[4] then
    local capacity = tonumber(stored[3])
    local tokens = math.min(capacity, tonumber(stored[1]) + (now - tonumber(stored[2])) * tonumber(stored[4]) / 1000)
    redis.call('HSET', KEYS[1], 'tokens', math.min(capacity, tokens + tonumber(ARGV[5])), 'at', now)
  end
end
if ARGV[3] ~= '' then
  local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'capacity', 'rate')
  local remaining = tonumber(ARGV[3])
  local tokens = tonumber(stored[1])
  if tokens and stored[2] and stored[3] and stored[4] then
    tokens = math.min(tonumber(stored[3]), tokens + grown + (now - tonumber(stored[2])) * tonumber(stored[4]) / 1000)
    remaining = math.min(tokens, remaining)
  end
  redis.call('HSET', KEYS[1], 'tokens', remaining, 'at', now)
end
return 1
