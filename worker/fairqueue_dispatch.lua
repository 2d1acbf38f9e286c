-- A dispatcher tick: one turn for each queue of a worker, in one call.
-- ARGV: depth, lease ms of a message not yet started, most entries to move per kind of work, then for each
--       queue its base and its broker list key. Returns one turn (see fairqueue_turn.lua) per queue.
local depth, lease, most = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local turns = {}
for i = 4, #ARGV, 2 do
  turns[#turns + 1] = turn(ARGV[i], ARGV[i + 1], depth, lease, most, now)
end
return turns
