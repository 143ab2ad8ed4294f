-- Undo: KEYS[1] is the code, KEYS[2..] the counters to take the send's
-- event from. ARGV: now (ms), the send's event id, deadline (ms), the
-- prefix of the guard's keys. When the code is still the send's, the send
-- is also taken back from its recipient's guard scopes (see guard.lua).
local now = tonumber(ARGV[1])
late(tonumber(ARGV[3]))
for i = 2, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[2])
end
local code = KEYS[1]
if redis.call('HGET', code, 'id') ~= ARGV[2] then
  return 0 -- a later send replaced it, or it was used
end
local g = redis.call('HMGET', code, 'gt', 'gs', 'gr')
if g[1] then
  guard_undo(ARGV[4], g[2], tonumber(g[1]), g[3])
end
local p = redis.call('HMGET', code, 'pmac', 'pexp', 'pkeep', 'patt', 'pmax', 'pid', 'pgt', 'pgs', 'pgr', 'pgm')
redis.call('DEL', code)
if p[1] and tonumber(p[3]) > now then
  redis.call('HSET', code, 'mac', p[1], 'exp', p[2], 'keep', p[3], 'att', p[4], 'max', p[5], 'id', p[6])
  if p[7] then
    redis.call('HSET', code, 'gt', p[7], 'gs', p[8], 'gr', p[9], 'gm', p[10])
  end
  redis.call('PEXPIRE', code, tonumber(p[3]) - now)
end
return 1
