-- The fraud guard, as passcode.GuardRequest states it; the same arithmetic
-- as the memory store's, in integers. A scope's counts are a string key
-- holding a MessagePack array: [1] the newest hour (hours since the Unix
-- epoch), [2] the newest day, [3..27] sends and [28..52] verified sends by
-- hour (newest first), [53..67] verified sends by day (newest first). A
-- Distinct scope is a hash of "s:"..member and "v:"..member, the member's
-- last send and last verified send in Unix ms. A recipient has a string
-- of its sends of the last day, a MessagePack map of "<scope>:<hour>" to a
-- count ("pending:"), and,
-- once a code to it verified, a string holding, in the service's Unix ms,
-- when it stops passing ("verified:").

local HOUR, DAY, WEIGHT = 3600000, 86400000, 3600
local NHOURS, NDAYS, SENDS, VERIFIED, DAYS = 25, 15, 3, 28, 53

local function gw_load(key)
  local raw = redis.call('GET', key)
  if raw then
    return cmsgpack.unpack(raw)
  end
  local w = {0, 0}
  for i = 3, DAYS + NDAYS - 1 do
    w[i] = 0
  end
  return w
end

-- gw_keep is how long a scope with days of history is kept, in ms.
local function gw_keep(days)
  return (NHOURS + 24 * days) * HOUR
end

-- gw_shift moves n places older the ring of size at base, emptying the newest.
local function gw_shift(w, base, size, n)
  for k = size - 1, 0, -1 do
    local from = k - n
    if from >= 0 then
      w[base + k] = w[base + from]
    else
      w[base + k] = 0
    end
  end
end

-- gw_slot returns the 0-based slot of x (an hour when at is 1, a day when
-- it is 2) in the rings of size that start at bases, moving them forward
-- when x is newer than their newest, or -1 when x is older than they hold.
local function gw_slot(w, at, bases, size, x)
  if x > w[at] then
    for _, base in ipairs(bases) do
      gw_shift(w, base, size, x - w[at])
    end
    w[at] = x
  end
  local k = w[at] - x
  if k < size then
    return k
  end
  return -1
end

local HOURLY, DAILY = {SENDS, VERIFIED}, {DAYS}

local function gw_hour(w, h)
  return gw_slot(w, 1, HOURLY, NHOURS, h)
end

local function gw_day(w, d)
  return gw_slot(w, 2, DAILY, NDAYS, d)
end

-- gw_add_sends counts n sends (negative to take some back) made in hour h.
local function gw_add_sends(w, h, n)
  local k = gw_hour(w, h)
  if k >= 0 then
    w[SENDS + k] = w[SENDS + k] + n
  end
end

local function gw_add_verified(w, t)
  local k = gw_hour(w, math.floor(t / HOUR))
  if k >= 0 then
    w[VERIFIED + k] = w[VERIFIED + k] + 1
  end
  k = gw_day(w, math.floor(t / DAY))
  if k >= 0 then
    w[DAYS + k] = w[DAYS + k] + 1
  end
end

-- gw_at returns a window's counts at t, in sends × seconds: unverified,
-- verified in the last 24 hours and in the last hour, and the busiest of
-- the days whole days before t's. A bucket newer than t counts as t's hour.
local function gw_at(w, t, days)
  local now, into = math.floor(t / HOUR), math.floor((t % HOUR) / 1000)
  local u, v, lh, busiest = 0, 0, 0, 0
  for k = 0, NHOURS - 1 do
    local age = now - (w[1] - k)
    if age < NHOURS then
      local weight = WEIGHT
      if age == NHOURS - 1 then
        weight = WEIGHT - into
      end
      u = u + weight * (w[SENDS + k] - w[VERIFIED + k])
      v = v + weight * w[VERIFIED + k]
      if age <= 0 then
        lh = lh + WEIGHT * w[VERIFIED + k]
      elseif age == 1 then
        lh = lh + (WEIGHT - into) * w[VERIFIED + k]
      end
    end
  end
  if u < 0 then
    u = 0
  end
  local today = math.floor(t / DAY)
  for k = 0, NDAYS - 1 do
    local age = today - (w[2] - k)
    if age >= 1 and age <= days and w[DAYS + k] > busiest then
      busiest = w[DAYS + k]
    end
  end
  return u, v, lh, busiest
end

-- gw_threshold is a scope's threshold, in units of 100 × sends × seconds.
local function gw_threshold(v, lh, busiest, sc)
  local baseline = v
  if WEIGHT * busiest > baseline then
    baseline = WEIGHT * busiest
  end
  local floor, ratio = 100 * (WEIGHT * sc.floor + lh), sc.ratio * baseline
  if ratio > floor then
    return ratio
  end
  return floor
end

local function gw_refuses(w, t, sc)
  local u, v, lh, busiest = gw_at(w, t, sc.days)
  local threshold = gw_threshold(v, lh, busiest, sc)
  return 100 * u >= threshold, u, threshold
end

-- gw_first_pass is the ms from t to the first whole second after it at
-- which the window lets the send through: the first hour boundary at
-- which it does, then the first second before that.
local function gw_first_pass(w, t, sc)
  local lo = 0
  for j = 1, NHOURS + 1 do
    local boundary = (math.floor(t / HOUR) + j) * HOUR
    local hi = math.floor((boundary - t + 999) / 1000)
    if not gw_refuses(w, t + 1000 * hi, sc) then
      while hi - lo > 1 do
        local mid = math.floor((lo + hi) / 2)
        if gw_refuses(w, t + 1000 * mid, sc) then
          lo = mid
        else
          hi = mid
        end
      end
      return 1000 * hi
    end
    lo = hi
  end
  return math.floor(((math.floor(t / HOUR) + NHOURS + 1) * HOUR - t + 999) / 1000) * 1000
end

-- gs_load reads a Distinct scope: each member's last send and last
-- verified send.
local function gs_load(key)
  local raw = redis.call('HGETALL', key)
  local set = {sent = {}, verified = {}}
  for i = 1, #raw, 2 do
    local kind, m = string.sub(raw[i], 1, 1), string.sub(raw[i], 3)
    if kind == 's' then
      set.sent[m] = tonumber(raw[i + 1])
    else
      set.verified[m] = tonumber(raw[i + 1])
    end
  end
  return set
end

-- gs_counted returns the send times of a Distinct scope's members counted
-- at t (sent in the last day, not verified in it), oldest first, and
-- whether member is one of them.
local function gs_counted(set, t, member)
  local times, has = {}, false
  for m, at in pairs(set.sent) do
    if at > t - DAY and (set.verified[m] or 0) <= t - DAY then
      table.insert(times, at)
      has = has or m == member
    end
  end
  table.sort(times)
  return times, has
end

-- gs_write sets a member's last send ('s') or verified send ('v') at t in
-- the Distinct scope at key, read as set, dropping the members with
-- nothing left in the day.
local function gs_write(key, set, member, kind, t)
  for _, list in ipairs({set.sent, set.verified}) do
    for m in pairs(list) do
      if (set.sent[m] or 0) <= t - DAY and (set.verified[m] or 0) <= t - DAY then
        redis.call('HDEL', key, 's:' .. m, 'v:' .. m)
      end
    end
  end
  local last = set.sent
  if kind == 'v' then
    last = set.verified
  end
  if t > (last[member] or 0) then
    redis.call('HSET', key, kind .. ':' .. member, t)
  end
  redis.call('PEXPIRE', key, DAY)
end

-- The recipient's pending sends: a MessagePack map of "<scope>:<hour>" to
-- a count.
local function pending_load(key)
  local raw = redis.call('GET', key)
  if raw then
    return cmsgpack.unpack(raw)
  end
  return {}
end

-- guard_args reads a GuardRequest from ARGV[base]: 0 for none, or the
-- number of scopes, then each scope's key index (0 for none), hex name,
-- floor, ratio, days, destination (0/1), newTo and distinct member; then
-- the recipient's pending and verified key indexes (0 for none) and hex
-- name, rememberFor (ms), exempt and recordOnly (0/1).
local function guard_args(base)
  local n = tonumber(ARGV[base])
  if n == 0 then
    return nil
  end
  local g = {scopes = {}}
  local a = base + 1
  for i = 1, n do
    g.scopes[i] = {key = tonumber(ARGV[a]), name = ARGV[a + 1], floor = tonumber(ARGV[a + 2]),
      ratio = tonumber(ARGV[a + 3]), days = tonumber(ARGV[a + 4]), destination = ARGV[a + 5] == '1',
      newto = tonumber(ARGV[a + 6]), member = ARGV[a + 7]}
    a = a + 8
  end
  g.pending, g.verified, g.recipient = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 2]
  g.rememberfor, g.exempt, g.recordonly = tonumber(ARGV[a + 3]), ARGV[a + 4] == '1', ARGV[a + 5] == '1'
  return g
end

-- guard_decide judges a send at now. It returns {refused (0/1), scope
-- (0-based), retry ms, unverified, threshold, remembered (0/1)}, the scopes
-- the send counts in, and the windows and sets it read, by key index.
local function guard_decide(g, now)
  local res = {0, 0, 0, 0, 0, 0}
  if g.verified > 0 then
    local passes = tonumber(redis.call('GET', KEYS[g.verified]) or '0')
    if now < passes then
      res[6] = 1
    end
  end
  local judge = res[6] == 0 and not g.exempt
  local windows, sets, counted, counts = {}, {}, {}, {}
  local function window(sc)
    if not windows[sc.key] then
      windows[sc.key] = gw_load(KEYS[sc.key])
    end
    return windows[sc.key]
  end
  for i, sc in ipairs(g.scopes) do
    local skip = sc.key == 0
    if not skip and sc.newto > 0 then
      local of = counts[sc.newto] -- a scope before this one
      skip = of ~= nil and (of.v > 0 or of.lh > 0 or of.busiest > 0)
    end
    if not skip and sc.member == '' then
      local u, v, lh, busiest = gw_at(window(sc), now, sc.days)
      counts[i] = {u = u, v = v, lh = lh, busiest = busiest}
    end
    if not skip then
      table.insert(counted, sc)
      if judge then
        local refuses, retry, u, thr = false, 0, 0, 0
        if sc.member ~= '' then
          sets[sc.key] = gs_load(KEYS[sc.key])
          local times, has = gs_counted(sets[sc.key], now, sc.member)
          local floor = math.max(sc.floor, 1)
          if not has and #times >= floor then
            refuses, retry, u, thr = true, times[#times - floor + 1] + DAY - now, #times, floor
          end
        else
          local c = counts[i]
          local tq = gw_threshold(c.v, c.lh, c.busiest, sc)
          if 100 * c.u >= tq then
            refuses, retry = true, gw_first_pass(window(sc), now, sc)
            u, thr = math.floor(c.u / WEIGHT), math.floor(tq / (100 * WEIGHT))
          end
        end
        if refuses then
          if res[1] == 0 then
            res[1], res[2], res[4], res[5] = 1, i - 1, u, thr
          end
          if retry > res[3] then
            res[3] = retry
          end
        end
      end
    end
  end
  return res, counted, {windows = windows, sets = sets}
end

-- guard_entries parses a code record's scopes: kind ("R" destination,
-- "S" other, "D" distinct), days, hex name, and a distinct scope's member.
local function guard_entries(gs)
  local out = {}
  for entry in string.gmatch(gs or '', '%S+') do
    local kind, days, name, member = string.match(entry, '^(%u)(%d+):(%x+):?(%x*)$')
    table.insert(out, {kind = kind, days = tonumber(days), name = name, member = member})
  end
  return out
end

-- guard_record counts a send at now in the scopes it counts in and in the
-- recipient's pending sends, and returns the code record's entries.
local function guard_record(g, counted, read, now)
  local hour = math.floor(now / HOUR)
  local entries = {}
  local pending = {}
  if g.pending > 0 then
    pending = pending_load(KEYS[g.pending])
  end
  for _, sc in ipairs(counted) do
    if sc.member ~= '' then
      gs_write(KEYS[sc.key], read.sets[sc.key] or gs_load(KEYS[sc.key]), sc.member, 's', now)
      table.insert(entries, 'D' .. sc.days .. ':' .. sc.name .. ':' .. sc.member)
    else
      local w = read.windows[sc.key] or gw_load(KEYS[sc.key])
      gw_add_sends(w, hour, 1)
      redis.call('SET', KEYS[sc.key], cmsgpack.pack(w), 'PX', gw_keep(sc.days))
      local field = sc.name .. ':' .. hour
      pending[field] = (pending[field] or 0) + 1
      local kind = 'S'
      if sc.destination then
        kind = 'R'
      end
      table.insert(entries, kind .. sc.days .. ':' .. sc.name)
    end
  end
  if g.pending > 0 then
    for field in pairs(pending) do
      if tonumber(string.match(field, ':(%d+)$')) <= hour - NHOURS then
        pending[field] = nil
      end
    end
    redis.call('SET', KEYS[g.pending], cmsgpack.pack(pending), 'PX', NHOURS * HOUR)
  end
  return table.concat(entries, ' ')
end

-- guard_credit counts a verified code, at now, in the scopes its send at
-- sent was counted in (entries gs), takes the recipient's other pending
-- sends back from their scopes, and lets the recipient pass until now +
-- rememberFor.
local function guard_credit(prefix, gs, sent, now, recipient, rememberfor)
  local hour = math.floor(sent / HOUR)
  local pending = {}
  if recipient and recipient ~= '' then
    pending = pending_load(prefix .. 'pending:' .. recipient)
  end
  local windows = {}
  for _, e in ipairs(guard_entries(gs)) do
    if e.kind == 'D' then
      local key = prefix .. 'guardset:' .. e.name
      gs_write(key, gs_load(key), e.member, 'v', now)
    else
      local key = prefix .. 'guard:' .. e.name
      local w = gw_load(key)
      gw_add_verified(w, sent)
      windows[e.name] = {w = w, keep = gw_keep(e.days)}
      local own = e.name .. ':' .. hour
      if pending[own] then
        pending[own] = pending[own] - 1 -- the verified send itself
      end
    end
  end
  for field, n in pairs(pending) do
    local name, h = string.match(field, '^(%x+):(%d+)$')
    if n > 0 then
      local entry = windows[name]
      local key = prefix .. 'guard:' .. name
      if not entry and redis.call('EXISTS', key) == 1 then
        entry = {w = gw_load(key)}
        windows[name] = entry
      end
      if entry then
        gw_add_sends(entry.w, tonumber(h), -n)
      end
    end
  end
  for name, entry in pairs(windows) do
    if entry.keep then
      redis.call('SET', prefix .. 'guard:' .. name, cmsgpack.pack(entry.w), 'PX', entry.keep)
    else
      redis.call('SET', prefix .. 'guard:' .. name, cmsgpack.pack(entry.w), 'KEEPTTL')
    end
  end
  if recipient and recipient ~= '' then
    redis.call('DEL', prefix .. 'pending:' .. recipient)
    if tonumber(rememberfor) > 0 then
      redis.call('SET', prefix .. 'verified:' .. recipient, now + tonumber(rememberfor), 'PX', tonumber(rememberfor))
    end
  end
end

-- guard_undo takes a send at sent back from its destination's scopes, and
-- from the recipient's pending sends.
local function guard_undo(prefix, gs, sent, recipient)
  local hour = math.floor(sent / HOUR)
  for _, e in ipairs(guard_entries(gs)) do
    local key = prefix .. 'guard:' .. e.name
    if e.kind == 'R' and redis.call('EXISTS', key) == 1 then
      local w = gw_load(key)
      gw_add_sends(w, hour, -1)
      redis.call('SET', key, cmsgpack.pack(w), 'KEEPTTL')
      if recipient and recipient ~= '' then
        local pkey = prefix .. 'pending:' .. recipient
        local pending = pending_load(pkey)
        local field = e.name .. ':' .. hour
        if pending[field] then
          pending[field] = pending[field] - 1
          redis.call('SET', pkey, cmsgpack.pack(pending), 'KEEPTTL')
        end
      end
    end
  end
end
