-- The primitives of passcode/storage, over KEYS: sliding windows (sorted
-- sets of event ids scored by their time in ms), codes (hashes), and slots
-- (hashes with fields e<index> and v<index>, the slot's epoch and value).
-- A script only ever touches the keys it was passed; redisstore's Go side
-- reads the arguments of each entry script below and passes every key.
-- Each redis.call costs about a microsecond inside a script: the
-- primitives read each key once and write it once where they can.

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

-- keep records the longest lifetime asked of a key in this script, and
-- what the script knows of it: 'new' when it created the key (it has no
-- TTL yet), 'old' when the key was there (it has one). keep_all applies
-- them, never shortening a key's life: PEXPIRE GT extends a TTL, NX sets
-- a missing one, and the likelier of the two goes first.
local keeps = {}
local function keep(key, ms, known)
  local k = keeps[key]
  if not k then
    keeps[key] = {ms = ms, known = known}
    return
  end
  if ms > k.ms then
    k.ms = ms
  end
  if known == 'old' or (known == 'new' and k.known == nil) then
    k.known = known
  end
end
local function keep_all()
  for key, k in pairs(keeps) do
    if k.known == 'new' then
      redis.call('PEXPIRE', key, k.ms)
    elseif k.known == 'old' then
      if redis.call('PEXPIRE', key, k.ms, 'GT') == 0 then
        redis.call('PEXPIRE', key, k.ms, 'NX')
      end
    elseif redis.call('PEXPIRE', key, k.ms, 'NX') == 0 then
      redis.call('PEXPIRE', key, k.ms, 'GT')
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

-- A key whose windows allow at most SMALL events is read whole: its
-- newest max+1 events answer every window on it, and it never holds more.
-- A larger one is counted with ZCOUNT and trimmed by time.
local SMALL = 64

-- byKey groups list's windows by key, with each key's largest max and
-- longest period.
local function byKey(list)
  local keys, order = {}, {}
  for j, w in ipairs(list) do
    local g = keys[w.key]
    if not g then
      g = {ws = {}, max = 0, period = 0}
      keys[w.key] = g
      table.insert(order, w.key)
    end
    table.insert(g.ws, j)
    if w.max > g.max then
      g.max = w.max
    end
    if w.period > g.period then
      g.period = w.period
    end
  end
  return keys, order
end

-- nth is the score of the nth newest event of a newest-first list of
-- (member, score) pairs, as numbers, with one more event at now when
-- added is set.
local function nth(events, n, now, added)
  if not added then
    return tonumber(events[2 * n])
  end
  local scores = {now}
  for i = 1, math.min(n, #events / 2) do
    table.insert(scores, tonumber(events[2 * i]))
  end
  table.sort(scores, function(a, b) return a > b end)
  return scores[n]
end

-- full counts each window's events (an event is in a period when its score
-- is at least now - period + 1) and returns the 0-based index of the full
-- window whose room comes last and the ms until then (-1, 0 when every
-- window has room), each window's count, and a state that record and
-- next_after use.
local function full(list, now)
  local keys, order = byKey(list)
  local worst, wait, counts = -1, 0, {}
  for _, k in ipairs(order) do
    local g = keys[k]
    if g.max <= SMALL then
      g.events = redis.call('ZRANGE', KEYS[k], 0, g.max, 'REV', 'WITHSCORES')
    end
    for _, j in ipairs(g.ws) do
      local w = list[j]
      local from = now - w.period + 1
      local count
      if g.events then
        count = 0
        while 2 * count < #g.events and tonumber(g.events[2 * count + 2]) >= from do
          count = count + 1
        end
      else
        count = redis.call('ZCOUNT', KEYS[k], from, '+inf')
      end
      counts[j] = count
      if count >= w.max then
        -- Room comes when the max-th newest event leaves the period.
        local at
        if g.events then
          at = nth(g.events, w.max, now, false)
        else
          local e = redis.call('ZRANGEBYSCORE', KEYS[k], from, '+inf', 'WITHSCORES', 'LIMIT', count - w.max, 1)
          at = tonumber(e[2])
        end
        local d = at + w.period - now
        if worst < 0 or d > wait then
          worst, wait = j - 1, d
        end
      end
    end
  end
  return worst, wait, counts, {list = list, keys = keys, order = order}
end

-- record adds event id at now once to each key of a state full returned,
-- keeps a small key to its newest max+1 events and trims a large one to
-- its longest period, and keeps each for its longest period.
local function record(st, now, id)
  for _, k in ipairs(st.order) do
    local g, key = st.keys[k], KEYS[k]
    redis.call('ZADD', key, now, id)
    if g.events then
      if #g.events / 2 > g.max then
        redis.call('ZREMRANGEBYRANK', key, 0, -(g.max + 2))
      end
      keep(key, g.period, #g.events > 0 and 'old' or 'new')
    else
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now - g.period)
      keep(key, g.period, 'old')
    end
  end
end

-- next_after is, once an event is recorded, the ms until every window has
-- room for one more, counts being what full found before it.
local function next_after(st, counts, now)
  local after = 0
  for j, w in ipairs(st.list) do
    if counts[j] + 1 >= w.max then
      local g, at = st.keys[w.key], nil
      if g.events then
        at = nth(g.events, w.max, now, true)
      else
        local e = redis.call('ZRANGEBYSCORE', KEYS[w.key], now - w.period + 1, '+inf', 'WITHSCORES', 'LIMIT', counts[j] + 1 - w.max, 1)
        at = tonumber(e[2])
      end
      local d = at + w.period - now
      if d > after then
        after = d
      end
    end
  end
  return after
end

-- greater compares two decimal integers exactly, as strings: slot values
-- run to 64 bits, past a Lua number's 53.
local function greater(a, b)
  local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
  if na ~= nb then
    return nb
  end
  if #a ~= #b then
    return (#a > #b) ~= na
  end
  return a ~= b and ((a > b) ~= na)
end

-- slot_ops applies the slot operations at ARGV[base]: how many, the
-- caller's time in ms, then each one's key index, slot index, epoch,
-- value, kind (0 add, 1 max) and keep in ms, as storage.Apply does. Each
-- key is read with one HMGET and written with one HSET; a sum too large
-- for a Lua number is left to HINCRBY, which is exact to 64 bits. Epochs
-- are below 2^53. A key's field x is when it expires: its TTL is
-- extended only when a keep would outlast it, then with a margin, so
-- that a key written every second is not given a new TTL every second.
local function slot_ops(base)
  local n, now = tonumber(ARGV[base]), tonumber(ARGV[base + 1])
  local keys, order = {}, {}
  for j = 1, n do
    local a = base + 2 + 6 * (j - 1)
    local k = ARGV[a]
    if not keys[k] then
      keys[k] = {}
      table.insert(order, k)
    end
    table.insert(keys[k], a)
  end
  for _, k in ipairs(order) do
    local key, ops = KEYS[tonumber(k)], keys[k]
    local fields, seen = {}, {}
    for _, a in ipairs(ops) do
      local i = ARGV[a + 1]
      if not seen[i] then
        seen[i] = true
        table.insert(fields, 'e' .. i)
        table.insert(fields, 'v' .. i)
      end
    end
    table.insert(fields, 'x')
    local cur = redis.call('HMGET', key, unpack(fields))
    local slots, longest = {}, 0
    for f = 1, #fields - 1, 2 do
      slots[fields[f]:sub(2)] = {e = cur[f], v = cur[f + 1] or '0'}
    end
    for _, a in ipairs(ops) do
      local i = ARGV[a + 1]
      local s, epoch, value, kind = slots[i], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
      if not s.e or tonumber(s.e) < tonumber(epoch) then
        s.e, s.v, s.dirty = epoch, value, true
      elseif tonumber(s.e) == tonumber(epoch) then
        if kind == '1' then
          if greater(value, s.v) then
            s.v, s.dirty = value, true
          end
        elseif #value < 16 and #s.v < 16 then
          s.v, s.dirty = string.format('%.0f', tonumber(s.v) + tonumber(value)), true
        else
          if s.dirty then
            redis.call('HSET', key, 'e' .. i, s.e, 'v' .. i, s.v)
          end
          s.v, s.dirty = tostring(redis.call('HINCRBY', key, 'v' .. i, value)), false
        end
      end
      longest = math.max(longest, tonumber(ARGV[a + 5]))
    end
    local set = {}
    for i, s in pairs(slots) do
      if s.dirty then
        table.insert(set, 'e' .. i)
        table.insert(set, s.e)
        table.insert(set, 'v' .. i)
        table.insert(set, s.v)
      end
    end
    local x = cur[#cur]
    if not x or tonumber(x) < now + longest then
      local ms = longest + math.min(math.floor(longest / 4), 3600000)
      table.insert(set, 'x')
      table.insert(set, string.format('%.0f', now + ms))
      keep(key, ms, x and 'old' or nil)
    end
    if #set > 0 then
      redis.call('HSET', key, unpack(set))
    end
  end
  return base + 2 + 6 * n
end

local CODE = {'mac', 'kid', 'exp', 'keep', 'att', 'max', 'id', 'data'}

-- put_code stores a code under key, keeping the one it replaces (when it is
-- still kept) for undo_code; the same MAC again keeps its tries.
local function put_code(key, now, id, mac, kid, exp, keepUntil, max, data)
  local old = redis.call('HMGET', key, unpack(CODE))
  local fields = {'mac', mac, 'kid', kid, 'exp', exp, 'keep', keepUntil, 'att', 0, 'max', max, 'id', id, 'data', data}
  if old[1] and tonumber(old[4]) > now then
    for i, f in ipairs(CODE) do
      table.insert(fields, 'p' .. f)
      table.insert(fields, old[i] or '')
    end
    if old[1] == mac then
      fields[10] = old[5]
    end
  elseif old[1] then
    redis.call('DEL', key) -- past its keep: its own previous code goes too
  end
  redis.call('HSET', key, unpack(fields))
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
    if #all > 0 then
      redis.call('DEL', key)
    end
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
