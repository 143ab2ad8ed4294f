-- The primitives of passcode/storage, over KEYS: sliding windows (sorted
-- sets of event ids scored by their time in ms), codes (hashes), and slots
-- (hashes with fields e<index> and v<index>, the slot's epoch and value).
-- A script only ever touches the keys it was passed; redisstore's Go side
-- reads the arguments of each entry script below and passes every key.

-- late refuses a step that starts at or after its caller's deadline (Unix
-- ms; 0 for none) by Redis's own clock, before it changes anything: a step
-- queued behind a stopped Redis must not be applied once its caller was
-- told it failed. The error is read by redisstore's Go side.
local function late(deadline)
  if deadline <= 0 then
    return
  end
  local t = redis.call('TIME')
  local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if clock >= deadline then
    error({err = 'LATE the caller\'s deadline passed ' .. (clock - deadline) .. ' ms before Redis ran the step'})
  end
end

-- keep records the longest lifetime asked of a key in this script; keep_all
-- applies them, never shortening a key's life.
local keeps = {}
local function keep(key, ms)
  if not keeps[key] or ms > keeps[key] then
    keeps[key] = ms
  end
end
local function keep_all()
  for key, ms in pairs(keeps) do
    if redis.call('PTTL', key) < ms then
      redis.call('PEXPIRE', key, ms)
    end
  end
end

-- windows reads n windows from ARGV[base]: how many, then each one's key
-- index, max and period in ms. It returns them and the next argument.
local function windows(base)
  local list, n = {}, tonumber(ARGV[base])
  for j = 1, n do
    local a = base + 3 * (j - 1)
    list[j] = {key = tonumber(ARGV[a + 1]), max = tonumber(ARGV[a + 2]), period = tonumber(ARGV[a + 3])}
  end
  return list, base + 1 + 3 * n
end

-- longest maps each key index to the longest period it is counted over.
local function longest(list)
  local periods = {}
  for _, w in ipairs(list) do
    if not periods[w.key] or w.period > periods[w.key] then
      periods[w.key] = w.period
    end
  end
  return periods
end

-- full drops the events that left each key's longest period, counts each
-- window's events (an event is in a period when its score is at least
-- now - period + 1), and returns the 0-based index of the full window whose
-- room comes last and the ms until then (-1, 0 when every window has room),
-- and each window's count.
local function full(list, now)
  for k, p in pairs(longest(list)) do
    redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', now - p)
  end
  local worst, wait, counts = -1, 0, {}
  for j, w in ipairs(list) do
    local from = now - w.period + 1
    local count = redis.call('ZCOUNT', KEYS[w.key], from, '+inf')
    counts[j] = count
    if count >= w.max then
      -- Room comes when all but max-1 events have left the period.
      local event = redis.call('ZRANGEBYSCORE', KEYS[w.key], from, '+inf', 'WITHSCORES', 'LIMIT', count - w.max, 1)
      local d = tonumber(event[2]) + w.period - now
      if worst < 0 or d > wait then
        worst, wait = j - 1, d
      end
    end
  end
  return worst, wait, counts
end

-- record adds event id at now once to each key, kept for its longest period.
local function record(list, now, id)
  for k, p in pairs(longest(list)) do
    redis.call('ZADD', KEYS[k], now, id)
    keep(KEYS[k], p)
  end
end

-- next_after is, once an event is recorded, the ms until every window has
-- room for one more, counts being what full found before it.
local function next_after(list, counts, now)
  local after = 0
  for j, w in ipairs(list) do
    if counts[j] + 1 >= w.max then
      local event = redis.call('ZRANGEBYSCORE', KEYS[w.key], now - w.period + 1, '+inf', 'WITHSCORES', 'LIMIT', counts[j] + 1 - w.max, 1)
      local d = tonumber(event[2]) + w.period - now
      if d > after then
        after = d
      end
    end
  end
  return after
end

-- slot_ops applies the slot operations at ARGV[base]: how many, then each
-- one's key index, slot index, epoch, value, kind (0 add, 1 max) and keep
-- in ms. Values are added with HINCRBY, in 64 bits; epochs are compared
-- as numbers, which hold them exactly (they are below 2^53).
local function slot_ops(base)
  local n = tonumber(ARGV[base])
  for j = 1, n do
    local a = base + 6 * (j - 1)
    local key, ef, vf = KEYS[tonumber(ARGV[a + 1])], 'e' .. ARGV[a + 2], 'v' .. ARGV[a + 2]
    local epoch, value, kind = ARGV[a + 3], ARGV[a + 4], ARGV[a + 5]
    local cur = redis.call('HMGET', key, ef, vf)
    if not cur[1] or tonumber(cur[1]) < tonumber(epoch) then
      redis.call('HSET', key, ef, epoch, vf, value)
    elseif tonumber(cur[1]) == tonumber(epoch) then
      if kind == '1' then
        if tonumber(value) > tonumber(cur[2]) then
          redis.call('HSET', key, vf, value)
        end
      else
        redis.call('HINCRBY', key, vf, value)
      end
    end
    keep(key, tonumber(ARGV[a + 6]))
  end
  return base + 1 + 6 * n
end

local CODE = {'mac', 'kid', 'exp', 'keep', 'att', 'max', 'id', 'data'}

-- put_code stores a code under key, keeping the one it replaces (when it is
-- still kept) for undo_code; the same MAC again keeps its tries.
local function put_code(key, now, id, mac, kid, exp, keepUntil, max, data)
  local old = redis.call('HMGET', key, unpack(CODE))
  local att = 0
  local prev = {}
  if old[1] and tonumber(old[4]) > now then
    for i, f in ipairs(CODE) do
      table.insert(prev, 'p' .. f)
      table.insert(prev, old[i] or '')
    end
    if old[1] == mac then
      att = tonumber(old[5])
    end
  end
  redis.call('DEL', key)
  redis.call('HSET', key, 'mac', mac, 'kid', kid, 'exp', exp, 'keep', keepUntil, 'att', att, 'max', max, 'id', id, 'data', data)
  if #prev > 0 then
    redis.call('HSET', key, unpack(prev))
  end
  redis.call('PEXPIRE', key, keepUntil - now)
end

-- undo_code puts back the code that the code issued as id replaced, while
-- key still holds it.
local function undo_code(key, now, id)
  if redis.call('HGET', key, 'id') ~= id then
    return -- a later send replaced it, or it was used
  end
  local p = redis.call('HMGET', key, 'pmac', 'pkid', 'pexp', 'pkeep', 'patt', 'pmax', 'pid', 'pdata')
  redis.call('DEL', key)
  if p[1] and p[4] ~= '' and tonumber(p[4]) > now then
    redis.call('HSET', key, 'mac', p[1], 'kid', p[2], 'exp', p[3], 'keep', p[4], 'att', p[5], 'max', p[6], 'id', p[7], 'data', p[8])
    redis.call('PEXPIRE', key, tonumber(p[4]) - now)
  end
end

-- take returns a key's slot fields (all, or those of the indexes given) as
-- field, value pairs, and deletes them.
local function take(key, indexes)
  if #indexes == 0 then
    local all = redis.call('HGETALL', key)
    redis.call('DEL', key)
    return all
  end
  local fields = {}
  for _, i in ipairs(indexes) do
    table.insert(fields, 'e' .. i)
    table.insert(fields, 'v' .. i)
  end
  local got, out = redis.call('HMGET', key, unpack(fields)), {}
  for j, f in ipairs(fields) do
    if got[j] then
      table.insert(out, f)
      table.insert(out, got[j])
    end
  end
  if #out > 0 then
    redis.call('HDEL', key, unpack(fields))
  end
  return out
end
