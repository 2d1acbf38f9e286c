-- Sliding windows per destination (a CRM's "N per hour plus 400 per minute", SPEC rule 44), shared by
-- every worker and the backfill. KEYS[1..n]: one sorted set per window, of the times (ms) requests go
-- or are booked to go; KEYS[n+1]: the cooldown key (set after a 429).
-- ARGV: now in ms (empty: Redis TIME), a unique member, "1" to go now on credit, then per window its
-- limit and its length in ms.
-- A caller that cannot go now is booked the first time every window has room for it, behind those
-- booked before it, so a backlog goes one at a time at the budget's pace and no window is ever over:
-- no request is sent inside a window already spent. Returns the wait in ms (0: go now).
local n = #KEYS - 1
local t = redis.call('TIME')
local now = tonumber(ARGV[1]) or tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local member = ARGV[2]
local on_credit = ARGV[3] == '1'
local cooldown = redis.call('PTTL', KEYS[n + 1])
if cooldown > 0 and not on_credit then
  return cooldown
end
local at = now
if not on_credit then
  for i = 1, n do
    local limit = tonumber(ARGV[2 + 2 * i])
    local window = tonumber(ARGV[3 + 2 * i])
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
    local count = redis.call('ZCARD', KEYS[i])
    if count >= limit then
      -- The entry whose leaving makes room, with every later one still inside the window.
      local frees = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
      local slot = tonumber(frees[2]) + window
      if slot > at then at = slot end
    end
    local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
    if last[2] and tonumber(last[2]) > now and tonumber(last[2]) > at then
      at = tonumber(last[2])  -- never ahead of someone booked already
    end
  end
end
for i = 1, n do
  local window = tonumber(ARGV[3 + 2 * i])
  redis.call('ZADD', KEYS[i], at, member)
  redis.call('PEXPIREAT', KEYS[i], at + window + 1000)
end
return at - now
