-- Check: KEYS[1] is the code, KEYS[2..] the failed-check counters. ARGV:
-- now (ms), event id, deadline (ms), n, n candidate MACs (each its key's
-- 8-byte fingerprint, then the 32-byte MAC, as the code's is kept), then
-- the limits
-- from ARGV[5+n] (see shared.lua), then the prefix of the guard's keys.
-- Answers {outcome, attempts left, limit, wait ms}, the outcomes numbered
-- as redisstore.outcomes says. A match credits the guard's scopes that the
-- code's send was counted in, named in the code's record (see guard.lua);
-- their keys carry the Store's hash tag, as KEYS do.

-- equal compares two MACs in time that depends only on their length.
local function equal(a, b)
  if #a ~= #b then
    return false
  end
  local diff = 0
  for i = 1, #a do
    diff = bit.bor(diff, bit.bxor(string.byte(a, i), string.byte(b, i)))
  end
  return diff == 0
end

local now = tonumber(ARGV[1])
late(tonumber(ARGV[3]))
local n = tonumber(ARGV[4])
local list = limits(5 + n)
local prefix = ARGV[6 + n + 3 * #list]
local worst, wait, counts = full(list, now)
if worst >= 0 then
  return {1, 0, worst, wait}
end
local code = KEYS[1]
local r = redis.call('HMGET', code, 'mac', 'exp', 'keep', 'att', 'max', 'gt', 'gs', 'gr', 'gm')
if not r[1] or tonumber(r[3]) <= now then
  return {2, 0, 0, 0}
end
if tonumber(r[2]) <= now then
  return {3, 0, 0, 0}
end
-- A code kept with its key's fingerprint, signed under a key none of the
-- candidates name, cannot be judged here: the instances' keys differ.
if #r[1] > 32 then
  local known = false
  for j = 1, n do
    if string.sub(ARGV[4 + j], 1, #r[1] - 32) == string.sub(r[1], 1, #r[1] - 32) then
      known = true
    end
  end
  if not known then
    return {7, 0, 0, 0}
  end
end
local att, max = tonumber(r[4]), tonumber(r[5])
if att >= max then
  return {4, 0, 0, 0}
end
local match = false
for j = 1, n do
  -- A code kept before fingerprints were is its MAC alone.
  if equal(r[1], string.sub(ARGV[4 + j], -#r[1])) then
    match = true
  end
end
if match then
  redis.call('DEL', code)
  if r[6] then
    guard_credit(prefix, r[7], tonumber(r[6]), now, r[8], r[9])
  end
  return {6, 0, 0, 0}
end
att = redis.call('HINCRBY', code, 'att', 1)
record(list, now, ARGV[2])
local left = remaining(list, counts, max - att)
if left < 0 then
  left = 0
end
return {5, left, 0, 0}
