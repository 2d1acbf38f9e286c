-- Claim or renew ticket ARGV[2] of queue base ARGV[1] for ARGV[3] ms more: 1 if it is still this
-- message's, 0 if it is not (finished, or its lease lapsed and the dispatcher sent the job again).
local base, ticket, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
if not redis.call('ZSCORE', base .. 'lease', ticket) then
  return 0
end
redis.call('ZADD', base .. 'lease', now_ms() + lease, ticket)
return 1
