-- A message's task finished: end its ticket and take the queue's turn (its place in the broker queue is
-- free), in one call. ARGV: base, broker list key, depth, lease ms of a message not yet started, most per
-- turn, ticket.
local base = ARGV[1]
redis.call('ZREM', base .. 'lease', ARGV[6])
redis.call('HDEL', base .. 'held', ARGV[6])
return turn(base, ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), now_ms())
