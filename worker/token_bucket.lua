-- Token bucket per tenant, shared by every worker on every machine (ARCHITECTURE principle 5).
-- KEYS[1] bucket hash {tokens, at, capacity, rate}; KEYS[2] cooldown key (set on a 429).
-- ARGV: capacity, refill per second, cost, and "1" to take the cost even on credit (a request in the
-- middle of a multi-request operation must not be interrupted: the debt delays the next caller).
-- Time comes from Redis TIME so worker clocks don't matter.
-- Returns the wait in milliseconds: 0 means the request may go now (and its cost was taken).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local on_credit = ARGV[4] == '1'
local cooldown = redis.call('PTTL', KEYS[2])
if cooldown > 0 and not on_credit then
  return cooldown
end
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'capacity', 'rate', 'cost')
local capacity = tonumber(stored[3]) or tonumber(ARGV[1])
local rate = tonumber(stored[4]) or tonumber(ARGV[2])
-- The vendor's own price of a request, learnt from its headers, overrides the caller's guess.
local cost = tonumber(stored[5]) or tonumber(ARGV[3])
local tokens = tonumber(stored[1]) or capacity
local at = tonumber(stored[2]) or now
tokens = math.min(capacity, tokens + (now - at) * rate / 1000)
local wait = 0
if tokens >= cost or on_credit then
  tokens = tokens - cost
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now, 'capacity', capacity, 'rate', rate)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 60000)
return wait
