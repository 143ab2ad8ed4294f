-- Shared by the scripts. Counters are sorted sets of event ids scored by
-- their time in milliseconds, in KEYS[2..]. ARGV[base] is how many limits
-- there are, then each limit's key index (into KEYS), max and window in
-- milliseconds. Limits may share a key, with different windows.

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

-- limits reads the limits that start at ARGV[base].
local function limits(base)
  local list = {}
  for j = 1, tonumber(ARGV[base]) do
    local a = base + 3 * (j - 1)
    list[j] = {key = tonumber(ARGV[a + 1]), max = tonumber(ARGV[a + 2]), window = tonumber(ARGV[a + 3])}
  end
  return list
end

-- longest maps each key index to the longest window it is counted over.
local function longest(list)
  local windows = {}
  for _, l in ipairs(list) do
    if not windows[l.key] or l.window > windows[l.key] then
      windows[l.key] = l.window
    end
  end
  return windows
end

-- full drops the events that have left each key's longest window, counts
-- each limit's events (scores are whole milliseconds, so an event is in a
-- window when its score is at least now - window + 1), and returns the
-- 0-based index of the full limit that frees up last and the milliseconds
-- until it does (-1, 0 when every limit has room), and each limit's count.
local function full(list, now)
  local windows, sizes, counts = longest(list), {}, {}
  for k, w in pairs(windows) do
    redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', now - w)
    sizes[k] = redis.call('ZCARD', KEYS[k])
  end
  local worst, wait = -1, 0
  for j, l in ipairs(list) do
    local from = now - l.window + 1
    local count = sizes[l.key]
    if l.window < windows[l.key] then
      count = redis.call('ZCOUNT', KEYS[l.key], from, '+inf')
    end
    counts[j] = count
    if count >= l.max then
      -- Room comes when all but max-1 events have left the window.
      local event = redis.call('ZRANGEBYSCORE', KEYS[l.key], from, '+inf', 'WITHSCORES', 'LIMIT', count - l.max, 1)
      local w = tonumber(event[2]) + l.window - now
      if worst < 0 or w > wait then
        worst, wait = j - 1, w
      end
    end
  end
  return worst, wait, counts
end

-- record adds event id at now once to each key, kept for its longest window.
local function record(list, now, id)
  for k, w in pairs(longest(list)) do
    redis.call('ZADD', KEYS[k], now, id)
    redis.call('PEXPIRE', KEYS[k], w)
  end
end

-- remaining is the least of left and the room each limit has once one
-- event more is recorded, counts being what full found.
local function remaining(list, counts, left)
  for j, l in ipairs(list) do
    local room = l.max - counts[j] - 1
    if room < left then
      left = room
    end
  end
  return left
end
