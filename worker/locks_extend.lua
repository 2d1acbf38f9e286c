-- Extend to ARGV[2] ms the locks in KEYS that still carry token ARGV[1]; returns how many still did.
local kept = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    kept = kept + 1
  end
end
return kept
