-- Undo: KEYS[1] is the code, KEYS[2..] the counters to take the send's
-- event from. ARGV: now (ms), the send's event id, deadline (ms).
local now = tonumber(ARGV[1])
late(tonumber(ARGV[3]))
for i = 2, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[2])
end
local code = KEYS[1]
if redis.call('HGET', code, 'id') ~= ARGV[2] then
  return 0 -- a later send replaced it, or it was used
end
local p = redis.call('HMGET', code, 'pmac', 'pexp', 'pkeep', 'patt', 'pmax', 'pid')
redis.call('DEL', code)
if p[1] and tonumber(p[3]) > now then
  redis.call('HSET', code, 'mac', p[1], 'exp', p[2], 'keep', p[3], 'att', p[4], 'max', p[5], 'id', p[6])
  redis.call('PEXPIRE', code, tonumber(p[3]) - now)
end
return 1
