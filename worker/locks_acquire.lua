-- Take every lock in KEYS for token ARGV[1] with a timeout of ARGV[2] ms, or none of them.
-- Returns 0 when all were taken, else the 1-based index of the first key another job holds.
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    return i
  end
end
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
end
return 0
