-- Issue: KEYS[1] is the code, KEYS[2..] the send counters. ARGV: now (ms),
-- event id, MAC, expires at (ms), keep until (ms), max attempts, then the
-- limits from ARGV[7] (see limits.lua). Answers {-1, 0}, or
-- {limit, wait ms}.
local now = tonumber(ARGV[1])
local list = limits(7)
local worst, wait = full(list, now)
if worst >= 0 then
  return {worst, wait}
end
record(list, now, ARGV[2])
local code = KEYS[1]
local old = redis.call('HMGET', code, 'mac', 'exp', 'keep', 'att', 'max', 'id')
if old[1] and tonumber(old[3]) > now then
  -- The code this one replaces, for Undo to put back.
  redis.call('HSET', code, 'pmac', old[1], 'pexp', old[2], 'pkeep', old[3], 'patt', old[4], 'pmax', old[5], 'pid', old[6])
elseif old[1] then
  redis.call('DEL', code) -- an expired code, and the code it replaced
end
redis.call('HSET', code, 'mac', ARGV[3], 'exp', ARGV[4], 'keep', ARGV[5], 'att', 0, 'max', ARGV[6], 'id', ARGV[2])
redis.call('PEXPIRE', code, tonumber(ARGV[5]) - now)
return {-1, 0}
