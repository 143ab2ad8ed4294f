-- Check: ARGV now, deadline, event id, the code's key index, the taken
-- key's index (0 for none), n, n candidate MACs, n key ids, then the
-- windows. Answers {outcome, tries left, window, wait ms, data, taken
-- field, value...}, the outcomes numbered as passcode/storage's.

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

local now, id = tonumber(ARGV[1]), ARGV[3]
late(tonumber(ARGV[2]))
local code, taken, n = KEYS[tonumber(ARGV[4])], tonumber(ARGV[5]), tonumber(ARGV[6])
local list = windows(7 + 2 * n)
local worst, wait, counts, st = full(list, now)
if worst >= 0 then
  return {1, 0, worst, wait, ''}
end
local r = redis.call('HMGET', code, 'mac', 'kid', 'exp', 'keep', 'att', 'max', 'data')
if not r[1] or tonumber(r[4]) <= now then
  return {2, 0, 0, 0, ''}
end
if tonumber(r[3]) <= now then
  return {3, 0, 0, 0, ''}
end
if r[2] ~= '' then
  local known = false
  for j = 1, n do
    if ARGV[6 + n + j] == r[2] then
      known = true
    end
  end
  if not known then
    return {4, 0, 0, 0, ''}
  end
end
local att, max = tonumber(r[5]), tonumber(r[6])
if att >= max then
  return {5, 0, 0, 0, ''}
end
local match = false
for j = 1, n do
  if equal(r[1], ARGV[6 + j]) then
    match = true
  end
end
if match then
  redis.call('DEL', code)
  local out = {7, 0, 0, 0, r[7] or ''}
  if taken > 0 then
    for _, v in ipairs(take(KEYS[taken], {})) do
      table.insert(out, v)
    end
  end
  return out
end
att = redis.call('HINCRBY', code, 'att', 1)
record(st, now, id)
keep_all()
local left = max - att
for j, w in ipairs(list) do
  if w.max - counts[j] - 1 < left then
    left = w.max - counts[j] - 1
  end
end
if left < 0 then
  left = 0
end
return {6, left, 0, 0, r[7] or ''}
