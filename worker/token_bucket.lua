-- Token bucket per tenant, shared by every worker on every machine (ARCHITECTURE principle 5).
-- KEYS[1] bucket hash {tokens, at, capacity, rate, cost, tail, short_tail}; KEYS[2] cooldown key (on a 429).
-- ARGV: capacity, refill per second, cost, "1" to take the cost even on credit (a request in the
-- middle of a multi-request operation must not be interrupted: the debt delays the next caller),
-- and "1" when the caller comes back at a turn it was given.
-- Time comes from Redis TIME so worker clocks don't matter (ARGV[6], when given, is the time in ms
-- instead: tests drive the clock).
--
-- A caller goes when the tokens are there. One that must wait is given a wake-up time of its own (a
-- turn), spaced by the cost of a request behind the last turn given (`tail`), so a backlog of waiting
-- jobs wakes one at a time at the vendor's pace instead of all together for a single token. A caller
-- that comes back at its turn and is still short (requests made on credit took tokens the turns did
-- not count) gets another turn from a second sequence (`short_tail`) instead of going to the back.
-- Tokens are only taken when a request goes, so the vendor's own limit is never overrun.
-- Returns {wait in milliseconds, 1 if the wait is a turn to come back with}.
local t = redis.call('TIME')
local now = tonumber(ARGV[6]) or tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local on_credit = ARGV[4] == '1'
local holds_turn = ARGV[5] == '1'
local cooldown = redis.call('PTTL', KEYS[2])
if cooldown > 0 and not on_credit then
  return {cooldown, holds_turn and 1 or 0}
end
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'capacity', 'rate', 'cost', 'tail', 'short_tail')
local capacity = tonumber(stored[3]) or tonumber(ARGV[1])
local rate = tonumber(stored[4]) or tonumber(ARGV[2])
-- The vendor's own price of a request, learnt from its headers, overrides the caller's guess.
local cost = tonumber(stored[5]) or tonumber(ARGV[3])
local tokens = tonumber(stored[1]) or capacity
local at = tonumber(stored[2]) or now
local tail = tonumber(stored[6]) or 0
local short_tail = tonumber(stored[7]) or 0
tokens = math.min(capacity, tokens + (now - at) * rate / 1000)
-- The wait until the next turn after `last`: when the tokens are there, one request after it.
local function wait_after(last)
  return math.max(math.ceil((cost - tokens) * 1000 / rate), last - now + math.ceil(cost * 1000 / rate))
end
local wait = 0
local turn = 0
if on_credit or tokens >= cost then
  tokens = tokens - cost
elseif holds_turn then
  -- Short at its turn: requests on credit since the turns were given took tokens they did not
  -- count. Such callers get turns of their own, spaced the same way, never all the same wait.
  wait = wait_after(short_tail)
  short_tail = now + wait
  turn = 1
else
  wait = wait_after(tail)
  tail = now + wait
  turn = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now, 'capacity', capacity, 'rate', rate, 'tail', tail,
           'short_tail', short_tail)
-- kept until it has refilled and the last turn has come, so no turn is forgotten
redis.call('PEXPIRE', KEYS[1], math.max(math.ceil((capacity - tokens) * 1000 / rate), tail - now) + 60000)
return {wait, turn}
